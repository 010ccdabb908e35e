"""The local engine: stream the input in chunks, dispatch each chunk (in this process or in N worker
processes, each loading the model once), commit every finished chunk beside the output, and
assemble the final file at the end.

Beside ``OUTPUT`` lives ``OUTPUT.parts/`` while a run is going: one JSON-lines file per finished chunk
and ``manifest.json`` (what the run was: input size and time, model, options; which chunks are done),
each written to a temporary name and renamed, so a run killed at any moment leaves only whole
chunks. ``resume=True`` checks that the input, model and options are the same, skips the finished
chunks and carries on. Because every run, resumed or not, assembles its output from the same chunk
files, a resumed run writes the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dispatch_nlp import __version__
from dispatch_nlp.batch.io import RowWriter, estimate_rows, read_chunks, read_parts
from dispatch_nlp.batch.report import ChangeReport, Summary
from dispatch_nlp.batch.rows import DEFAULT_MAX_CHARS, RowProcessor, columns
from dispatch_nlp.batch.tables import ColumnSpec, table_format
from dispatch_nlp.dispatcher import (
    CHECKSUM_FILE,
    CONFIG_FILE,
    Dispatcher,
    apply_profile,
    read_config,
    resolve_resource,
    resource_refs,
    sha256_file,
)
from dispatch_nlp.errors import DispatchNLPError, InputError, ModelError
from dispatch_nlp.files import atomic_write
from dispatch_nlp.resources import default_model_dir

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass
class BatchOptions:
    """How to run a batch. ``chunk_size`` rows are read, dispatched and committed at a time (memory
    is bounded by ``chunk_size × (workers + 1)`` rows); ``batch_size`` orders of similar length go
    through the model together."""

    spec: ColumnSpec = field(default_factory=ColumnSpec)
    model_dir: str | None = None
    workers: int = 1
    chunk_size: int = 2000
    batch_size: int = 64
    resume: bool = False
    compare_col: str | None = None
    fmt: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    output_encoding: str = "utf-8"
    max_chars: int = DEFAULT_MAX_CHARS
    cut_trails: bool = True
    progress: bool = True
    profile: str | None = None  # fast / full (None: the model's default profile)
    ort_spin: bool = False  # let the encoder's ONNX Runtime threads busy-wait (the CLI reads DISPATCH_NLP_ORT_SPIN)
    ort_threads: int | None = None  # the encoder's ONNX Runtime threads (the CLI reads DISPATCH_NLP_THREADS)
    trust: bool = False  # load a model directory without checksums.json (the CLI's --trust)

    def identity(self) -> dict:
        """The options a resumed run must share with the run it continues: every one that can change an
        output row (the batch size too: it decides which orders the encoder pads together). Not the
        workers, threads or output encoding (the parts are the same whatever they are). The profile is
        the one that runs (``run_batch`` puts the model default's name in when ``profile`` is None)."""
        return {"spec": asdict(self.spec), "compare_col": self.compare_col, "chunk_size": self.chunk_size,
                "batch_size": self.batch_size, "max_chars": self.max_chars, "cut_trails": self.cut_trails,
                "fmt": self.fmt, "encoding": self.encoding, "sheet": self.sheet, "profile": self.profile,
                "trust": self.trust}


def work_dir(output: str | Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".parts")


def _model_fingerprint(model_dir: str | None, profile: str | None) -> dict:
    """What the model is: its folder, the sha256 of its config, its checksums and the catalog files it
    uses (of every file when it has no checksums), and the profile that runs (the config's default
    when ``profile`` is None)."""
    mdir = Path(model_dir) if model_dir else default_model_dir()
    config = read_config(mdir)  # a clear ModelError now rather than from inside a worker
    _, profile_name = apply_profile(config, profile, mdir)
    h = hashlib.sha256()
    files = [mdir / CONFIG_FILE, mdir / CHECKSUM_FILE] if (mdir / CHECKSUM_FILE).exists() else \
        sorted(p for p in mdir.rglob("*") if p.is_file())
    files += [resolve_resource(mdir, ref) for ref in resource_refs(config)]
    for f in files:
        h.update(str(f.relative_to(mdir) if f.is_relative_to(mdir) else f.name).encode("utf-8"))
        h.update(sha256_file(f).encode("ascii") if f.is_file() else b"-")
    return {"dir": str(mdir.resolve()), "sha256": h.hexdigest(), "profile": profile_name}


# -- worker processes ------------------------------------------------------------------------------
_PROCESSOR: RowProcessor | None = None
_INIT_ERROR: str | None = None


def _init_worker(model_dir, cut_trails, spec, compare_col, max_chars, batch_size, profile=None,
                 ort_spin=False, ort_threads=None, trust=False) -> None:
    global _PROCESSOR, _INIT_ERROR
    try:
        _PROCESSOR = RowProcessor(Dispatcher.load(model_dir, cut_trails=cut_trails, profile=profile,
                                                  ort_spin=ort_spin, ort_threads=ort_threads, trust=trust), spec,
                                  compare_col=compare_col, max_chars=max_chars, batch_size=batch_size)
    except Exception as exc:  # noqa: BLE001 - reported with the first task, as a plain message
        _INIT_ERROR = f"{type(exc).__name__}: {exc}"


def _work(chunk: list[tuple[int, dict]]) -> list[list]:
    if _PROCESSOR is None:
        raise ModelError(f"a worker could not load the model: {_INIT_ERROR}")
    return _PROCESSOR.process(chunk)


def _parallel(chunks: Iterator[list], opts: BatchOptions) -> Iterator[list[list]]:
    """Chunk results in input order from ``opts.workers`` processes, never more than workers + 1
    chunks in flight (so memory stays flat however long the input is)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    # spawn, not fork: the parent may hold threads (the progress bar's monitor, ONNX Runtime pools).
    ctx = mp.get_context("spawn")
    initargs = (opts.model_dir, opts.cut_trails, opts.spec, opts.compare_col, opts.max_chars, opts.batch_size,
                opts.profile, opts.ort_spin, opts.ort_threads, opts.trust)
    with ProcessPoolExecutor(opts.workers, mp_context=ctx, initializer=_init_worker, initargs=initargs) as ex:
        window: deque = deque()
        try:
            for chunk in chunks:
                window.append(ex.submit(_work, chunk))
                if len(window) > opts.workers:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        except BrokenProcessPool:
            raise DispatchNLPError("a worker process died (out of memory?); rerun with --resume, "
                                   "fewer --workers or a smaller --chunk-size") from None
        finally:
            for f in window:
                f.cancel()


# -- the run ---------------------------------------------------------------------------------------
@dataclass
class BatchResult:
    output: Path
    summary: dict
    resumed_rows: int = 0
    changes: tuple[Path, Path] | None = None

    @property
    def errors(self) -> int:
        return self.summary["errors"]


class _InjectedFailure(RuntimeError):
    """Raised by the test hook ``fail_after_chunks`` to simulate a crash."""


def run_batch(input_path: str | Path, output: str | Path, opts: BatchOptions | None = None, *,
              dispatcher=None, fail_after_chunks: int | None = None) -> BatchResult:
    """Reclassify every row of ``input_path`` into ``output`` (format from its suffix). ``dispatcher``
    reuses a loaded model in this process (one worker only). ``fail_after_chunks`` is a test hook that
    stops the run, as a crash would, once that many chunks are committed."""
    opts = opts or BatchOptions()
    t0 = time.perf_counter()
    input_path, output = Path(input_path), Path(output)
    table_format(output)  # an unknown output suffix is a usage error before any work
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file")
    if input_path.resolve() == output.resolve():
        raise InputError(f"{output}: the output would overwrite the input; choose another file")
    if not output.parent.exists():
        raise InputError(f"{output.parent}: no such folder for the output file")
    if opts.chunk_size < 1 or opts.workers < 1 or opts.batch_size < 1:
        raise InputError("--chunk-size, --workers and --batch-size must be at least 1")
    if opts.max_chars < 1:
        raise InputError("--max-chars must be at least 1")
    if opts.compare_col and opts.compare_col in opts.spec.columns():
        log.info("--compare-col %s is also a column the orders are read from", opts.compare_col)

    st = input_path.stat()
    identity = {"version": __version__, "input": {"path": str(input_path.resolve()), "size": st.st_size,
                                                  "mtime_ns": st.st_mtime_ns},
                "model": _model_fingerprint(opts.model_dir, opts.profile), "options": opts.identity()}
    identity = json.loads(json.dumps(identity))  # as the manifest will hold it (tuples become lists)
    wdir = work_dir(output)
    done: list[dict] = []
    if wdir.exists():
        manifest = _read_manifest(wdir)
        if opts.resume and manifest is not None:
            if manifest.get("identity") != identity:
                raise InputError(f"{wdir}: the interrupted run used a different input, model or options; "
                                 "rerun with the same ones, or without --resume to start again")
            done = [c for c in manifest["chunks"] if (wdir / c["file"]).exists()]
            if len(done) != len(manifest["chunks"]):
                done = done[: next(i for i, c in enumerate(manifest["chunks"]) if not (wdir / c["file"]).exists())]
        else:
            if not opts.resume:
                log.warning("%s: discarding the progress of an unfinished run (use --resume to continue it)", wdir)
            shutil.rmtree(wdir)
    elif opts.resume:
        log.warning("%s: nothing to resume; starting from the first row", wdir)
    wdir.mkdir(exist_ok=True)
    resumed_rows = sum(c["rows"] for c in done)

    def commit(idx: int, rows: list[list]) -> None:
        name = f"chunk-{idx:06d}.jsonl"
        atomic_write(wdir / name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        done.append({"index": idx, "rows": len(rows), "file": name})
        atomic_write(wdir / MANIFEST, json.dumps({"identity": identity, "chunks": done}, ensure_ascii=False))

    atomic_write(wdir / MANIFEST, json.dumps({"identity": identity, "chunks": done}, ensure_ascii=False))

    def pending() -> Iterator[list]:
        for idx, chunk in enumerate(read_chunks(input_path, opts.spec, opts.chunk_size, compare_col=opts.compare_col,
                                                encoding=opts.encoding, fmt=opts.fmt, sheet=opts.sheet)):
            if idx < len(done):
                if len(chunk) != done[idx]["rows"]:
                    raise InputError(f"{input_path}: changed since the interrupted run (chunk {idx + 1}); "
                                     "rerun without --resume")
                continue
            yield chunk

    from tqdm import tqdm

    total = estimate_rows(input_path, opts.fmt, opts.sheet)
    bar = tqdm(total=total, initial=resumed_rows, unit="rows", file=sys.stderr, disable=not opts.progress,
               dynamic_ncols=True, smoothing=0.1, desc="reclassify")
    try:
        if opts.workers == 1:
            if dispatcher is None:
                dispatcher = Dispatcher.load(opts.model_dir, cut_trails=opts.cut_trails, profile=opts.profile,
                                             ort_spin=opts.ort_spin, ort_threads=opts.ort_threads, trust=opts.trust)
            proc = RowProcessor(dispatcher, opts.spec, compare_col=opts.compare_col, max_chars=opts.max_chars,
                                batch_size=opts.batch_size)
            results: Iterator[list[list]] = (proc.process(c) for c in pending())
        else:
            results = _parallel(pending(), opts)
        kill_after = os.environ.get("DISPATCH_NLP_BATCH_TEST_KILL_AFTER")  # tests: a hard crash mid-run
        committed = 0
        for rows in results:
            commit(len(done), rows)
            committed += 1
            if bar.total is not None and bar.n + len(rows) > bar.total:
                bar.total = bar.n + len(rows)
            bar.update(len(rows))
            if fail_after_chunks is not None and committed >= fail_after_chunks:
                raise _InjectedFailure(f"injected failure after {committed} chunks")
            if kill_after and committed >= int(kill_after):
                import signal

                os.kill(os.getpid(), signal.SIGKILL)
    except BaseException as exc:
        if not done and not isinstance(exc, _InjectedFailure):
            shutil.rmtree(wdir, ignore_errors=True)  # nothing worth resuming
        raise
    finally:
        bar.close()

    summary, changes = write_output(read_parts(wdir / c["file"] for c in done), input_path, output, opts, t0)
    # write_output returns once the output (and the change report) are fsynced and renamed and their
    # folder fsynced (files.atomic_open): only then may the parts, the way back after a crash, go.
    shutil.rmtree(wdir)
    return BatchResult(output, summary.to_dict(), resumed_rows, changes)


def write_output(chunks: Iterator[list[list]], input_path: Path, output: Path, opts: BatchOptions,
                 t0: float) -> tuple[Summary, tuple[Path, Path] | None]:
    """Write output rows (in chunks) to ``output``, counting the summary and, with a label to
    compare, writing the change report beside it. Shared by the local and the Spark engine."""
    cols = columns(bool(opts.compare_col))
    names = [c for c, _ in cols]
    summary, report = Summary(names), ChangeReport(names) if opts.compare_col else None
    writer = RowWriter(output, cols, encoding=opts.output_encoding)
    try:
        for rows in chunks:
            writer.write(rows)
            summary.add(rows)
            if report is not None:
                report.add(rows)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    summary.seconds = time.perf_counter() - t0
    changes = None
    if report is not None:
        changes = report.write(output, {"input": str(input_path), "output": str(output),
                                        "compare_col": opts.compare_col})
    return summary, changes


def _read_manifest(wdir: Path) -> dict | None:
    try:
        data = json.loads((wdir / MANIFEST).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("chunks"), list) else None
    except (OSError, ValueError):
        return None
