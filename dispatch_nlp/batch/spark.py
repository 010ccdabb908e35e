"""Batch reclassification on Apache Spark: the same rows out as the local engine, from many machines.

    from dispatch_nlp.batch.spark import reclassify
    out = reclassify(spark.read.parquet("hdfs:///history/2019-2025"), "models/default",
                     text_col="内容", id_col="工单编号", compare_col="原分类")
    out.write.parquet("hdfs:///reclassified/2026.11")

``reclassify`` runs ``mapInPandas``: every executor Python process loads one ``Dispatcher`` the first
time it needs it and keeps it in a module global (Spark reuses Python workers, so the model loads
once per worker process, not once per batch). The model directory is shipped as one zip file with
``SparkContext.addFile`` (``ship_model=True``, the default; unpacked once per executor) or read in
place from storage every executor can see (``ship_model=False``: a shared file system path).
Executors need ``dispatch_nlp`` installed (or shipped with ``--py-files``); resources written
``catalog:NAME`` resolve there.

Rows are numbered as the local engine numbers them (data rows from 1, in input order) without a
shuffle: ``monotonically_increasing_id`` holds the partition and the position in it, and one
counting job gives each partition's offset. The number is the ``row`` column and the ``id`` when the
table has no id column.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from dispatch_nlp.batch.io import detect_encoding
from dispatch_nlp.batch.rows import DEFAULT_MAX_CHARS, RowProcessor, columns
from dispatch_nlp.batch.run import BatchResult, write_output
from dispatch_nlp.batch.tables import ColumnSpec, read_rows, table_format
from dispatch_nlp.dispatcher import Dispatcher, apply_profile, read_config
from dispatch_nlp.errors import InputError
from dispatch_nlp.resources import default_model_dir

_MID = "__dispatch_nlp_mid__"
_ROW = "__dispatch_nlp_row__"
_DISPATCHERS: dict = {}  # (model dir, shipped, cut_trails, profile, ort_spin, ort_threads) -> Dispatcher, one per executor process
_SHIPPED: set = set()  # (application id, archive) already added
_PACKED: dict = {}  # (model dir, checksums stamp) -> zip written by pack_model
PARTITION_BYTES = "16m"  # input split size of the sessions this module starts (see session())
SPARK_CHARSETS = ("iso-8859-1", "us-ascii", "utf-16", "utf-16be", "utf-16le", "utf-32", "utf-8")


def _dispatcher(model_ref: str, shipped: bool, cut_trails: bool, profile: str | None = None, ort_spin: bool = False,
                ort_threads: int | None = None):
    key = (model_ref, shipped, cut_trails, profile, ort_spin, ort_threads)
    if key not in _DISPATCHERS:
        if shipped:
            from pyspark import SparkFiles

            model_dir = str(unpack_model(Path(SparkFiles.get(model_ref))))
        else:
            model_dir = model_ref
        _DISPATCHERS[key] = Dispatcher.load(model_dir, cut_trails=cut_trails, profile=profile, ort_spin=ort_spin,
                                              ort_threads=ort_threads)
    return _DISPATCHERS[key]


def pack_model(model_dir: Path) -> Path:
    """The model directory as one zip file to ship with ``addFile`` (Spark ships a folder only to
    ``local`` masters). Named after the folder and its ``checksums.json``, written once per process
    into a temporary folder; the executors unpack it with ``unpack_model``."""
    import atexit
    import hashlib
    import shutil
    import tempfile
    import zipfile

    model_dir = model_dir.resolve()
    sums = model_dir / "checksums.json"
    stamp = hashlib.sha256(sums.read_bytes() if sums.exists() else str(model_dir).encode()).hexdigest()[:16]
    key = (str(model_dir), stamp)
    if key in _PACKED and _PACKED[key].exists():
        return _PACKED[key]
    folder = Path(tempfile.mkdtemp(prefix="dispatch-nlp-model-"))
    atexit.register(shutil.rmtree, folder, True)
    archive = folder / f"{model_dir.name}-{stamp}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(model_dir.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(model_dir).as_posix())
    _PACKED[key] = archive
    return archive


def unpack_model(archive: Path) -> Path:
    """On an executor: the shipped zip unpacked next to it (once; the Python workers of one executor
    share the folder, so it is unpacked aside and renamed into place)."""
    import shutil
    import tempfile
    import zipfile

    target = archive.with_suffix("")
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=archive.parent))
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(staging)
    try:
        os.rename(staging, target)
    except OSError:  # another worker got there first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def spark_schema(compare: bool):
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType, StructField, StructType

    types = {"str": StringType(), "int": LongType(), "float": DoubleType(), "bool": BooleanType()}
    return StructType([StructField(name, types[t], True) for name, t in columns(compare)])


def _plain(value):
    """A pandas cell as the local reader would give it (numpy scalars to Python, missing to None)."""
    if value is None:
        return None
    if hasattr(value, "item") and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _parse_json_line(line: str) -> dict:
    # The same outcomes as tables._read_jsonl, so a broken line reads the same on both engines (the
    # local reader sees each line with its newline, which shows in the error's position).
    try:
        obj = json.loads(line + "\n")
    except json.JSONDecodeError as exc:
        return {"__error__": f"not valid JSON ({exc.msg} at column {exc.colno})"}
    return obj if isinstance(obj, dict) else {"__error__": "a JSON line must be an object"}


def _row_mapper(model_ref: str, shipped: bool, cut_trails: bool, spec: ColumnSpec, compare_col: str | None,
                max_chars: int, batch_size: int, json_col: str | None, offsets: dict | None, names: list[str],
                profile: str | None = None, ort_spin: bool = False, ort_threads: int | None = None):
    keep = [*spec.columns(), *([compare_col] if compare_col else []), "channel", "__error__"]

    def mapper(batches):
        import pandas as pd

        proc = RowProcessor(_dispatcher(model_ref, shipped, cut_trails, profile, ort_spin, ort_threads), spec, compare_col=compare_col,
                            max_chars=max_chars, batch_size=batch_size)
        for pdf in batches:
            if offsets is not None:
                mids = pdf[_MID].tolist()
                rows = [offsets[m >> 33] + (m & ((1 << 33) - 1)) + 1 for m in mids]
            else:
                rows = [int(r) for r in pdf[_ROW].tolist()]
            if json_col is not None:
                raws = [_parse_json_line(line) for line in pdf[json_col].tolist()]
                raws = [{k: r[k] for k in keep if k in r} for r in raws]
            else:
                cols = [c for c in keep if c in pdf.columns]
                data = {c: pdf[c].tolist() for c in cols}
                raws = [{c: _plain(data[c][i]) for c in cols} for i in range(len(pdf))]
            out = proc.process(list(zip(rows, raws)))
            yield pd.DataFrame({name: pd.Series([r[i] for r in out], dtype=object) for i, name in enumerate(names)})

    return mapper


def reclassify(df, model_dir: str | os.PathLike | None = None, *, text_col: str = "text", id_col: str | None = None,
               title_col: str | None = None, time_col: str | None = None, compare_col: str | None = None,
               path_sep: str = "->", spec: ColumnSpec | None = None, ship_model: bool = True,
               cut_trails: bool = True, max_chars: int = DEFAULT_MAX_CHARS, batch_size: int = 64,
               row_col: str | None = None, profile: str | None = None, _json_col: str | None = None,
               ort_spin: bool = False, ort_threads: int | None = None):
    """Reclassify every row of ``df``; returns a DataFrame with the local engine's output columns
    (``dispatch_nlp.batch.column_names``), one row per input row, in input order within partitions.

    ``model_dir``: a model directory (None = the shipped default); shipped to executors with
    ``addFile`` unless ``ship_model=False`` (then it must be a path every executor can read).
    ``spec`` overrides the column arguments. ``row_col`` names a column that already numbers the rows
    (skips the counting job). ``profile``: fast or full (None: the model's default profile)."""

    spec = spec or ColumnSpec(text_col=text_col, id_col=id_col, title_col=title_col, time_col=time_col,
                              path_sep=path_sep)
    if _json_col is None:
        needed = spec.columns() + ([compare_col] if compare_col else [])
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise InputError(f"no column(s) {', '.join(missing)}; the DataFrame has: {', '.join(df.columns)}")
    mdir = Path(model_dir) if model_dir else default_model_dir()

    sc = df.sparkSession.sparkContext
    if ship_model:
        apply_profile(read_config(mdir), profile, mdir)  # fail on the driver, clearly, before any task starts
        archive = pack_model(mdir)
        if (sc.applicationId, str(archive)) not in _SHIPPED:  # once per application (a new session ships again)
            sc.addFile(str(archive))
            _SHIPPED.add((sc.applicationId, str(archive)))
        model_ref = archive.name
    else:
        model_ref = str(mdir)

    from pyspark.sql import functions as F

    keep = [*spec.columns(), *([compare_col] if compare_col else []), "channel", "__error__"]
    offsets = None
    def col(name: str):
        return F.col("`" + name.replace("`", "``") + "`")  # names may hold dots, spaces, Chinese

    if row_col:
        df = df.select(*[col(c) for c in keep if c in df.columns], col(row_col).cast("long").alias(_ROW))
    else:
        cols = [_json_col] if _json_col else [c for c in keep if c in df.columns]
        df = df.select(*[col(c) for c in cols], F.monotonically_increasing_id().alias(_MID))
        counts = df.groupBy(F.shiftright(F.col(_MID), 33).alias("p")).count().collect()
        offsets, total = {}, 0
        for r in sorted(counts, key=lambda r: r["p"]):
            offsets[r["p"]] = total
            total += r["count"]
    compare = bool(compare_col)
    names = [n for n, _ in columns(compare)]
    mapper = _row_mapper(model_ref, ship_model, cut_trails, spec, compare_col, max_chars, batch_size, _json_col,
                         offsets, names, profile, ort_spin, ort_threads)
    return df.mapInPandas(mapper, schema=spark_schema(compare))


# -- the CLI engine: read with Spark, write the local engine's file ---------------------------------
def session(master: str | None = None, app_name: str = "dispatch-nlp batch"):
    """A SparkSession (the running one if there is one). Executors in local mode use this Python."""
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Each input partition's output rows come back to the driver as one task result (about 2.5 KB a
    # row with the decision JSON): 128 MB input splits (~100,000 orders) overflowed a 1 GB executor
    # heap on a cluster (Java OutOfMemoryError), so splittable inputs are read in 16 MB splits.
    builder = (SparkSession.builder.appName(app_name).config("spark.ui.enabled", "false")
               .config("spark.sql.files.maxPartitionBytes", PARTITION_BYTES))
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def read_table(spark, path: str | Path, spec: ColumnSpec, *, fmt: str | None = None, encoding: str | None = None):
    """``(DataFrame, json_col)`` for a CSV/TSV, JSONL or Parquet file, read as the local engine reads
    it: CSV cells as text (quoted newlines kept), JSON lines parsed on the executors."""
    path = Path(path)
    kind = table_format(path, fmt)
    if kind == "xlsx":
        raise InputError(f"{path}: the Spark engine reads CSV/TSV, JSONL and Parquet; use --engine local for XLSX")
    if kind in ("csv", "tsv", "jsonl"):
        enc = encoding or detect_encoding(path)
        java_enc = {"utf-8-sig": "UTF-8", "utf8": "UTF-8"}.get(enc.lower(), enc)
    if kind in ("csv", "tsv"):
        if java_enc.lower().replace("_", "-") not in SPARK_CHARSETS:
            # Spark 4 reads only a few charsets unless told to accept every Java charset (GBK, GB18030).
            spark.conf.set("spark.sql.legacy.javaCharsets", "true")
        df = (spark.read.option("header", True).option("multiLine", True).option("escape", '"')
              .option("sep", "," if kind == "csv" else "\t").option("encoding", java_enc)
              .option("mode", "PERMISSIVE").csv(str(path.resolve())))
        # The local reader strips header names (and the UTF-8 BOM); so must this one.
        df = df.toDF(*[c.lstrip("\ufeff").strip() for c in df.columns])
        return df, None
    if kind == "jsonl":
        if java_enc.upper().replace("-", "") != "UTF8":
            raise InputError(f"{path}: the Spark engine reads JSON Lines as UTF-8 only (this file is {enc}); "
                             "convert it or use --engine local")
        from pyspark.sql import functions as F

        df = spark.read.text(str(path.resolve()))
        return df.filter(F.col("value").rlike(r"\S")), "value"
    return spark.read.parquet(str(path.resolve())), None


def _check_header(path: Path, spec: ColumnSpec, compare_col: str | None, *, fmt, encoding) -> None:
    """The local engine's column check, on the first readable row (cheap: a generator)."""
    if encoding is None and table_format(path, fmt) != "xlsx" and table_format(path, fmt) != "parquet":
        encoding = detect_encoding(path)
    for _, row in read_rows(path, encoding=encoding, fmt=fmt):
        if "__error__" in row:
            continue
        spec.check_header(list(row), str(path))
        if compare_col and compare_col not in row:
            raise InputError(f"{path}: no column {compare_col} (--compare-col); the table has: {', '.join(row)}")
        return


def run_spark_batch(input_path: str | Path, output: str | Path, opts, *, master: str | None = None, spark=None,
                    ship_model: bool = True):
    """``dispatch-nlp batch --engine spark``: read ``input_path`` with Spark, reclassify on the
    executors, and write ``output`` on the driver with the local engine's writer (same bytes).
    ``master``: a Spark master URL (``local[2]``, ``spark://host:7077``); without ``spark`` a
    session is started for the run and stopped after it."""
    t0 = time.perf_counter()
    input_path, output = Path(input_path), Path(output)
    table_format(output)
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file")
    if opts.resume:
        raise InputError("--resume is for the local engine; Spark retries failed tasks itself")
    _check_header(input_path, opts.spec, opts.compare_col, fmt=opts.fmt, encoding=opts.encoding)
    own_session = spark is None
    if own_session:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None and master and active.sparkContext.master != master:
            raise InputError(f"a Spark session on {active.sparkContext.master} is already running in this "
                             f"process; stop it to use --master {master}")
        own_session = active is None
    spark = spark or session(master)
    try:
        return _run_on(spark, input_path, output, opts, ship_model, t0)
    finally:
        if own_session:  # the session this run started (on a cluster: the application) ends with it
            spark.stop()


def _run_on(spark, input_path: Path, output: Path, opts, ship_model: bool, t0: float):
    from tqdm import tqdm

    df, json_col = read_table(spark, input_path, opts.spec, fmt=opts.fmt, encoding=opts.encoding)
    out = reclassify(df, opts.model_dir, spec=opts.spec, compare_col=opts.compare_col, ship_model=ship_model,
                     cut_trails=opts.cut_trails, max_chars=opts.max_chars, batch_size=opts.batch_size,
                     profile=opts.profile, _json_col=json_col, ort_spin=opts.ort_spin,
                     ort_threads=opts.ort_threads)
    bar = tqdm(unit="rows", file=sys.stderr, disable=not opts.progress, desc="reclassify (spark)")

    def chunks():
        last, buf = 0, []
        # Partitions come back in order, one job each; prefetching starts the next partition's job
        # while this one is written, so a cluster's executors work side by side, not in turn.
        for r in out.toLocalIterator(prefetchPartitions=True):
            row = list(r)
            if row[0] != last + 1:
                raise InputError(f"Spark returned row {row[0]} after row {last}: the input order was not kept")
            last = row[0]
            buf.append(row)
            if len(buf) >= opts.chunk_size:
                bar.update(len(buf))
                yield buf
                buf = []
        bar.update(len(buf))
        yield buf

    try:
        summary, changes = write_output(chunks(), input_path, output, opts, t0)
    finally:
        bar.close()
    return BatchResult(output, summary.to_dict(), 0, changes)


# -- a standalone cluster on this machine (tests, benchmarks, trying a cluster before having one) ---
class StandaloneCluster:
    """A Spark standalone master and ``workers`` workers started on this machine with the
    ``spark-class`` launcher that ships with pyspark (Java must be installed)::

        with StandaloneCluster(workers=2) as cluster:
            run_spark_batch(src, out, opts, master=cluster.url)

    Each worker offers ``cores`` cores and ``memory`` to executors; the daemons themselves get
    ``daemon_memory`` of heap. Logs and work folders go under ``workdir`` (a temporary folder by
    default). ``stop()`` ends the processes it started (their process groups), nothing else.
    An application's executors take ``spark.executor.memory`` (1g unless set), so ``memory`` must be
    at least that much or the application waits for resources that never come."""

    def __init__(self, workers: int = 2, *, cores: int = 1, memory: str = "1200m", daemon_memory: str = "256m",
                 workdir: str | os.PathLike | None = None, host: str = "127.0.0.1", start_timeout: float = 90.0):
        self.workers, self.cores, self.memory, self.host = workers, cores, memory, host
        self.daemon_memory, self.start_timeout = daemon_memory, start_timeout
        self._own_dir = workdir is None
        self.workdir = Path(workdir) if workdir else None
        self.procs: list = []
        self.url = ""

    def _launch(self, name: str, args: list[str]):
        import subprocess

        import pyspark

        home = Path(pyspark.__file__).parent
        env = {**os.environ, "SPARK_HOME": str(home), "SPARK_DAEMON_MEMORY": self.daemon_memory,
               "SPARK_DAEMON_JAVA_OPTS": "-XX:TieredStopAtLevel=1", "SPARK_LOCAL_IP": self.host, "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
        assert self.workdir is not None
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed when the process is stopped
        proc = subprocess.Popen([str(home / "bin" / "spark-class"), *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                preexec_fn=_die_with_parent)
        self.procs.append((proc, log))
        return self.workdir / f"{name}.log"

    def _wait_for(self, log_path: Path, needle: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if needle in log_path.read_text(errors="replace"):
                return
            if any(p.poll() is not None for p, _ in self.procs):
                break
            time.sleep(0.25)
        tail = log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"Spark standalone daemon did not start ({log_path.name}):\n{tail}")

    def start(self) -> StandaloneCluster:
        import shutil
        import tempfile

        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise RuntimeError("a Spark cluster needs Java: install a JRE (e.g. apt-get install default-jre-headless)")
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="dispatch-nlp-spark-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        port, ui = _free_port(self.host), _free_port(self.host)
        master_log = self._launch("master", ["org.apache.spark.deploy.master.Master", "--host", self.host,
                                             "--port", str(port), "--webui-port", str(ui)])
        self._wait_for(master_log, "I have been elected leader")
        self.url = f"spark://{self.host}:{port}"
        logs = []
        for i in range(self.workers):
            work = self.workdir / f"worker{i}"
            work.mkdir(exist_ok=True)
            logs.append(self._launch(f"worker{i}", [
                "org.apache.spark.deploy.worker.Worker", self.url, "--host", self.host, "--cores", str(self.cores),
                "--memory", self.memory, "--webui-port", str(_free_port(self.host)), "--work-dir", str(work)]))
        for log_path in logs:
            self._wait_for(log_path, "Successfully registered with master")
        return self

    def stop(self) -> None:
        """Stop the workers, then the master (SIGTERM to each process group, SIGKILL after 20 s)."""
        import shutil
        import signal
        import subprocess

        for proc, log in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.close()
        self.procs = []
        if self._own_dir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> StandaloneCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: on Linux, end the daemon when the process that started it dies (a
    killed test run leaves no cluster behind); elsewhere nothing."""
    import signal

    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
