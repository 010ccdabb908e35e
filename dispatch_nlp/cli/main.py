"""The ``dispatch-nlp`` command line.

Exit codes (stable, scripts may rely on them):
  0  success
  1  the command ran, but found problems (invalid catalog, some input rows unreadable)
  2  bad usage or unreadable input (missing file, wrong encoding, bad arguments)
  3  the model directory or catalog could not be loaded
  4  an unexpected internal error (a bug: please report it with the masked log)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from dispatch_nlp import __version__
from dispatch_nlp.errors import CatalogError, DispatchNLPError, InputError, ModelError
from dispatch_nlp.files import AtomicFile
from dispatch_nlp.logs import setup_logging
from dispatch_nlp.resources import DATA_ENV, use_data_root

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_MODEL, EXIT_INTERNAL = 0, 1, 2, 3, 4

log = logging.getLogger("dispatch_nlp.cli")


class Output:
    """``-o FILE`` or stdout, written line by line; a file is written beside and moved into place at
    the end (``files.AtomicFile``) so a failed run never leaves half a file that looks complete."""

    def __init__(self, path: str | None):
        self.file = AtomicFile(path) if path and path != "-" else None
        self.fh: IO[Any] = self.file.fh if self.file is not None else sys.stdout

    def write_line(self, line: str) -> None:
        self.fh.write(line + "\n")

    def close(self, ok: bool = True) -> None:
        if self.file is None:
            self.fh.flush()
        elif ok:
            self.file.commit()
        else:
            self.file.abort()


def read_jsonl(path: str, encoding: str = "utf-8") -> Iterator[tuple[int, object]]:
    """Yield (line number, parsed object or an ``InputError``) for each non-blank line."""
    if path == "-":
        stream = sys.stdin
    else:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{path}: no such file")
        if p.is_dir():
            raise InputError(f"{path}: is a folder, expected a JSONL file")
        stream = open(p, encoding=encoding, errors="strict", newline="")
    with stream if path != "-" else _nullcontext(stream) as fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                if "\x00" in line:
                    raise InputError(f"{path}: line {lineno} holds binary data (NUL bytes); expected JSON Lines text")
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    yield lineno, InputError(f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not {encoding} text near line {lineno + 1} (byte {exc.start}); "
                             "pass --encoding gb18030 if the file is GBK/GB18030") from None


class _nullcontext:
    def __init__(self, obj):
        self.obj = obj

    def __enter__(self):
        return self.obj

    def __exit__(self, *exc):
        return False


def cmd_dispatch(args: argparse.Namespace) -> int:
    from dispatch_nlp.dispatcher import Dispatcher, ort_spin_from_env, ort_threads_from_env
    from dispatch_nlp.routing.router import bad_input_decision
    from dispatch_nlp.types import WorkOrder

    if (args.text is None) == (args.input is None):
        raise InputError("give either the order TEXT or --input FILE.jsonl (not both)")
    dispatcher = Dispatcher.load(args.model, cut_trails=True if args.cut_trails else None, profile=args.profile,
                                 ort_spin=ort_spin_from_env(), ort_threads=ort_threads_from_env(), trust=args.trust)
    indent = 2 if args.pretty else None
    if args.text is not None:
        decision = dispatcher.dispatch(WorkOrder(text=args.text, title=args.title, channel=args.channel))
        out = Output(args.output)
        out.write_line(decision.to_json(indent=indent))
        out.close()
        return EXIT_OK
    out = Output(args.output)
    bad = 0
    ok = False
    try:
        batch: list[tuple[int, object]] = []

        def flush() -> None:
            nonlocal bad
            good: list[tuple[int, WorkOrder | TypeError | InputError]] = []
            for lineno, obj in batch:
                try:
                    if isinstance(obj, InputError):
                        raise obj
                    good.append((lineno, WorkOrder.coerce(obj)))
                except (TypeError, InputError) as exc:
                    good.append((lineno, exc))
            orders = [o for _, o in good if isinstance(o, WorkOrder)]
            decided = iter(dispatcher.dispatch_batch(orders, batch_size=args.batch_size)) if orders else iter(())
            for lineno, o in good:
                if isinstance(o, WorkOrder):
                    out.write_line(next(decided).to_json(indent=indent))
                else:
                    bad += 1
                    oid = batch_id(batch, lineno)
                    dec = bad_input_decision(oid, f"第{lineno}行无法读取：{o}", catalog_version=dispatcher.catalog_version,
                                             model_version=dispatcher.model_version)
                    out.write_line(dec.to_json(indent=indent))
            batch.clear()

        for lineno, obj in read_jsonl(args.input, args.encoding):
            batch.append((lineno, obj))
            if len(batch) >= args.batch_size:
                flush()
        flush()
        ok = True
    finally:
        out.close(ok)
    if bad:
        print(f"dispatch-nlp: {bad} input line(s) could not be read; their decisions are routed to review "
              "with the flag bad_input", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def batch_id(batch: list[tuple[int, object]], lineno: int) -> str | None:
    for n, obj in batch:
        if n == lineno and isinstance(obj, dict) and obj.get("id") is not None:
            return str(obj["id"])
    return None


def cmd_info(args: argparse.Namespace) -> int:
    from dispatch_nlp.dispatcher import Dispatcher

    print(json.dumps(Dispatcher.load(args.model, profile=args.profile, trust=args.trust).info(), ensure_ascii=False,
                     indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from dispatch_nlp.cli.model import add_profile_flag, add_trust_flag

    parser = argparse.ArgumentParser(
        prog="dispatch-nlp",
        description="Read 12345 hotline work orders and decide where they go.",
        epilog="Exit codes: 0 ok, 1 problems found, 2 bad usage or input, 3 model/catalog not loadable, 4 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"dispatch-nlp {__version__}")
    parser.add_argument("--log-level", default="WARNING", help="logging level (personal data is always masked)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("dispatch", help="dispatch one order (TEXT) or a JSONL file of orders",
                       description="Dispatch one order given as TEXT, or every line of a JSONL file (--input) "
                                   "with fields id, text and optional title, channel, created_at. Prints one "
                                   "decision JSON per order, in input order.")
    p.add_argument("text", nargs="?", help="the order text")
    p.add_argument("-i", "--input", help="JSONL file of orders ('-' for stdin)")
    p.add_argument("-o", "--output", help="write decisions here instead of stdout")
    p.add_argument("-m", "--model", help="model directory (default: the shipped model)")
    add_profile_flag(p)
    add_trust_flag(p)
    p.add_argument("--title", help="message title (online channels), with TEXT")
    p.add_argument("--channel", help="intake channel, with TEXT")
    p.add_argument("--encoding", default="utf-8", help="encoding of --input (default utf-8)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cut-trails", action="store_true", help="cut appended handling trails (for exported history)")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_dispatch)

    p = sub.add_parser("info", help="print the model, catalog and schema versions")
    p.add_argument("-m", "--model", help="model directory (default: the shipped model)")
    add_profile_flag(p)
    add_trust_flag(p)
    p.set_defaults(func=cmd_info)

    for module in _COMMAND_MODULES:
        module.register(sub)
    return parser


def _command_modules() -> list:
    from dispatch_nlp.cli import batch as cli_batch
    from dispatch_nlp.cli import bench as cli_bench
    from dispatch_nlp.cli import calibrate as cli_calibrate
    from dispatch_nlp.cli import catalog as cli_catalog
    from dispatch_nlp.cli import corpus as cli_corpus
    from dispatch_nlp.cli import model as cli_model
    from dispatch_nlp.cli import service as cli_service

    return [cli_catalog, cli_model, cli_corpus, cli_service, cli_batch, cli_bench, cli_calibrate]


_COMMAND_MODULES: list = []


def main(argv: list[str] | None = None) -> int:
    if not _COMMAND_MODULES:
        _COMMAND_MODULES.extend(_command_modules())
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level.upper())
    use_data_root(os.environ.get(DATA_ENV))  # the environment is read here, at the edge, not in the library
    try:
        return int(args.func(args) or 0)
    except CatalogError as exc:
        print(f"dispatch-nlp: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except ModelError as exc:
        print(f"dispatch-nlp: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except (InputError, TypeError) as exc:
        print(f"dispatch-nlp: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DispatchNLPError as exc:
        print(f"dispatch-nlp: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        print("dispatch-nlp: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: never a traceback to the user
        log.error("internal error: %s: %s", type(exc).__name__, exc)
        print(f"dispatch-nlp: internal error ({type(exc).__name__}); run with --log-level DEBUG and report it",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
