"""``dispatch-nlp serve``, ``keys``, ``corrections``, ``retrain``, ``promote``, ``rollback`` and ``registry``:
the commands of the daily loop (serve → operators correct → retrain → promote or not → roll back).

Exit codes as everywhere: 0 ok; 1 ran but found problems (bad rows on import, promotion refused);
2 bad usage or input; 3 model not loadable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from dispatch_nlp.cli._lazy import require_training
from dispatch_nlp.dispatcher import ort_spin_from_env, ort_threads_from_env
from dispatch_nlp.errors import InputError

EXIT_OK, EXIT_PROBLEMS = 0, 1


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
KEYS_ENV = "DISPATCH_NLP_API_KEYS"  # the keys file, when --keys-file is not given


def keys_file_from(args: argparse.Namespace) -> str | None:
    return getattr(args, "keys_file", None) or os.environ.get(KEYS_ENV) or None


def is_loopback(host: str) -> bool:
    import ipaddress

    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from dispatch_nlp.service import ServiceSettings, create_app
    except ImportError:
        print("dispatch-nlp serve needs the [serve] extra: pip install 'dispatch-nlp[serve]'", file=sys.stderr)
        return 2
    if args.model and args.registry:
        raise InputError("give --model DIR or --registry DIR, not both")
    keys_file = keys_file_from(args)
    if args.no_auth:
        if not is_loopback(args.host):
            raise InputError(f"--no-auth is allowed only on a loopback address (127.0.0.1, ::1, localhost), "
                             f"not --host {args.host}: make API keys with dispatch-nlp keys add")
        keys_file = None
        logging.getLogger("dispatch_nlp.service").warning(
            "AUTHENTICATION IS OFF (--no-auth): every local process may dispatch, write corrections and reload "
            "the model. Use API keys (dispatch-nlp keys add) for anything but local testing.")
        print("WARNING: dispatch-nlp serve --no-auth: authentication is OFF (loopback only)", file=sys.stderr)
    elif not keys_file:
        raise InputError("no API keys configured: make one with 'dispatch-nlp keys add --role admin --id admin-1 "
                         f"--keys-file keys.json' and start with --keys-file keys.json (or {KEYS_ENV}=keys.json); "
                         "for local testing only, --no-auth on 127.0.0.1")
    settings = ServiceSettings(
        model_dir=args.model, registry=args.registry,
        corrections=None if args.corrections in ("", "none") else args.corrections,
        max_body_bytes=args.max_body_bytes, max_batch=args.max_batch,
        keys_file=keys_file, no_auth=args.no_auth, write_rate_per_s=args.write_rate, write_burst=args.write_burst,
        watch_interval_s=args.watch if args.registry else 0.0, profile=args.profile, ort_spin=ort_spin_from_env(),
        ort_threads=ort_threads_from_env(), trust=args.trust, batch_max=args.batch_max,
        batch_delay_ms=args.batch_delay_ms, queue_max=args.queue_max, request_timeout_s=args.request_timeout_s,
        max_in_flight=args.max_in_flight, workers=max(1, args.workers))
    if settings.workers > 1:
        return serve_workers(settings, args)
    app = create_app(settings)
    # log_config=None: uvicorn logs through the root handler, which masks personal data.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=args.access_log,
                workers=1, timeout_graceful_shutdown=30)
    return EXIT_OK


def serve_workers(settings, args: argparse.Namespace) -> int:
    """``serve --workers N``: uvicorn binds the socket here and starts N worker processes (spawned, so
    each is a fresh interpreter that imports ``service.app.app_from_environment`` and loads the model
    once); it restarts a worker that dies and stops them all on SIGINT/SIGTERM (each finishes its
    requests in flight). The settings reach the workers through the environment; each worker's native
    thread pools (ONNX Runtime, BLAS) get ``cpus // N`` threads unless DISPATCH_NLP_THREADS says otherwise,
    so N workers do not oversubscribe the cores."""
    import shutil
    import tempfile

    import uvicorn

    from dispatch_nlp.service.settings import SETTINGS_ENV, settings_to_env

    per_worker = max(1, (os.cpu_count() or 1) // settings.workers)
    if settings.ort_threads is None:
        settings.ort_threads = per_worker
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(per_worker))
    settings.metrics_dir = tempfile.mkdtemp(prefix="dispatch-nlp-metrics-")
    os.environ[SETTINGS_ENV] = settings_to_env(settings)
    os.environ["DISPATCH_NLP_LOG_LEVEL"] = str(getattr(args, "log_level", "WARNING")).upper()
    try:
        uvicorn.run("dispatch_nlp.service.app:app_from_environment", factory=True, host=args.host, port=args.port,
                    log_config=None, access_log=args.access_log, workers=settings.workers,
                    timeout_graceful_shutdown=30)
    finally:
        shutil.rmtree(settings.metrics_dir, ignore_errors=True)
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    from dispatch_nlp.service.keys import add_key, list_keys, revoke_key

    path = keys_file_from(args)
    if not path:
        raise InputError(f"give --keys-file FILE (or set {KEYS_ENV})")
    if args.keys_command == "add":
        secret = add_key(path, args.id, args.role)
        print(f"# key {args.id} (role {args.role}) added to {path}; the secret is shown this once:", file=sys.stderr)
        print(secret)
        return EXIT_OK
    if args.keys_command == "list":
        print(json.dumps(list_keys(path), ensure_ascii=False, indent=2))
        return EXIT_OK
    if not revoke_key(path, args.id):
        print(f"dispatch-nlp keys revoke: no key {args.id!r} in {path}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(json.dumps({"revoked": args.id, "keys_file": str(path)}))
    return EXIT_OK


def cmd_corrections_import(args: argparse.Namespace) -> int:
    from dispatch_nlp.lifecycle.corrections import Correction, open_store, read_corrections_table

    store = open_store(args.db)
    good: list[Correction] = []
    bad: list[InputError] = []
    for _n, item in read_corrections_table(args.file, encoding=args.encoding):
        if isinstance(item, InputError):
            bad.append(item)
        else:
            good.append(item)
    new, dup = store.add_many(good) if good else (0, 0)
    for err in bad[:50]:
        print(f"dispatch-nlp corrections import: {err}", file=sys.stderr)
    print(json.dumps({"file": str(args.file), "stored": new, "duplicates": dup, "bad_rows": len(bad),
                      "total_in_store": store.count()}, ensure_ascii=False))
    return EXIT_PROBLEMS if bad else EXIT_OK


def cmd_corrections_export(args: argparse.Namespace) -> int:
    from dispatch_nlp.knowledge.catalog import Catalog
    from dispatch_nlp.lifecycle.corrections import export_training_table, open_store

    if "://" not in args.db and not Path(args.db).exists():
        raise InputError(f"{args.db}: no such corrections database")
    catalog = Catalog.load(args.catalog) if args.catalog else None
    if args.model:
        from dispatch_nlp.dispatcher import Dispatcher

        catalog = Dispatcher.load(args.model).catalog
    counts = export_training_table(open_store(args.db), args.output, catalog=catalog, since=args.since)
    print(json.dumps({"output": str(args.output), **counts}, ensure_ascii=False))
    return EXIT_OK


def cmd_corrections_stats(args: argparse.Namespace) -> int:
    from collections import Counter

    from dispatch_nlp.lifecycle.corrections import open_store

    if "://" not in args.db and not Path(args.db).exists():
        raise InputError(f"{args.db}: no such corrections database")
    store = open_store(args.db)
    kinds: Counter[str] = Counter()
    fields: Counter[str] = Counter()
    models: Counter[str] = Counter()
    total = 0
    for c in store.iter_all():
        total += 1
        kinds[c.kind] += 1
        models[c.decision_model_version or "unknown"] += 1
        for f in ("category_code", "category_path", "unit", "district", "street", "appeal_type"):
            fields[f] += bool(getattr(c, f))
    print(json.dumps({"corrections": total, "orders": len(store.latest_by_order()), "kinds": dict(kinds),
                      "fields_corrected": dict(fields), "decision_models": dict(models)}, ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_retrain(args: argparse.Namespace) -> int:
    require_training("retrain")  # InputError (exit 2) naming the [train] extra when it is missing
    from dispatch_nlp.cli.model import spec_from_args
    from dispatch_nlp.training.retrain import RetrainOptions, comparison_table, retrain

    overrides = {}
    if args.encoder:
        overrides["encoder"] = args.encoder
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.linear_only:
        overrides["encoder"] = None
    opts = RetrainOptions(
        model=Path(args.model), output=Path(args.output), corrections=args.corrections,
        eval_data=Path(args.eval) if args.eval else None, catalog=Path(args.catalog) if args.catalog else None,
        history_catalog=Path(args.history_catalog) if args.history_catalog else None, since=args.since,
        eval_ratio=args.eval_ratio, holdout=args.holdout, encoding=args.encoding, model_version=args.model_version,
        tolerance=args.tolerance, overrides=overrides, progress=not args.quiet)
    report = retrain(args.history, spec_from_args(args), opts)
    print(comparison_table(report["comparison"]), file=sys.stderr)
    print(json.dumps({k: report[k] for k in ("champion", "challenger", "fine_tune", "data", "comparison", "seconds")},
                     ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from dispatch_nlp.lifecycle.registry import Registry, compare, read_evaluation

    registry = Registry(args.registry)
    challenger = Path(args.challenger)
    current = registry.current()
    comparison = None
    if current is not None:
        report = read_evaluation(challenger)
        if report is None:
            raise InputError(f"{challenger} has no evaluation.json: make it with dispatch-nlp retrain (which "
                             "compares it with the champion), or promote with --force")
        from dispatch_nlp.dispatcher import read_config

        champ_version = read_config(registry.current_dir()).get("model_version")
        if report["champion"]["model_version"] != champ_version and not args.force:
            print(f"dispatch-nlp promote: {challenger} was compared with {report['champion']['model_version']}, "
                  f"but the registry's current model is {champ_version}; retrain against the current model "
                  "(or --force)", file=sys.stderr)
            return EXIT_PROBLEMS
        ev = report["evaluation"]
        comparison = compare({k: v for k, v in ev["champion"].items() if v},
                             {k: v for k, v in ev["challenger"].items() if v}, args.tolerance)
    result = registry.promote(challenger, tolerance=args.tolerance, comparison=comparison, force=args.force,
                              trust=args.trust)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if not result["promoted"]:
        print(f"dispatch-nlp promote: not promoted: {result['reason']}", file=sys.stderr)
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    from dispatch_nlp.lifecycle.registry import Registry

    print(json.dumps(Registry(args.registry, create=False).rollback(), ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_registry(args: argparse.Namespace) -> int:
    from dispatch_nlp.lifecycle.registry import Registry

    r = Registry(args.registry, create=False)
    print(json.dumps({**r.describe(), "history": r.history()[-20:]}, ensure_ascii=False, indent=2))
    return EXIT_OK


def register(sub) -> None:
    from dispatch_nlp.cli.model import add_column_flags, add_profile_flag, add_trust_flag

    p = sub.add_parser("serve", help="run the HTTP service (FastAPI + uvicorn)",
                       description="Serve POST /v1/dispatch, /v1/dispatch/batch, /v1/corrections, GET /v1/health, "
                                   "/v1/model, /metrics and POST /v1/admin/reload. The OpenAPI document is at /docs "
                                   "and /openapi.json.")
    p.add_argument("-m", "--model", help="model directory (default: the shipped model)")
    p.add_argument("--registry", help="serve the registry's current model and follow its promotions")
    add_profile_flag(p)
    add_trust_flag(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--corrections", default="corrections.db",
                   help="corrections store: SQLite file or SQLAlchemy URL ('none' disables; default corrections.db)")
    p.add_argument("--max-body-bytes", type=int, default=1_000_000)
    p.add_argument("--max-batch", type=int, default=256)
    p.add_argument("--keys-file", help=f"API keys (dispatch-nlp keys add); default ${KEYS_ENV}. Required unless "
                                       "--no-auth")
    p.add_argument("--no-auth", action="store_true", help="no API keys: every request may do everything (only with "
                                                          "--host 127.0.0.1, ::1 or localhost; logged loudly)")
    p.add_argument("--write-rate", type=float, default=10.0, help="per key: corrections and reloads a second "
                                                                  "(token bucket; 0: no limit; default 10)")
    p.add_argument("--write-burst", type=int, default=100, help="per key: writes allowed at once (default 100)")
    p.add_argument("--watch", type=float, default=5.0, help="with --registry: seconds between checks of its "
                                                            "current pointer (0: only on /v1/admin/reload)")
    p.add_argument("--batch-max", type=int, default=32, help="POST /v1/dispatch: concurrent requests run as one "
                                                             "batch of at most this many orders (0: no batching)")
    p.add_argument("--batch-delay-ms", type=float, default=0.0, help="the oldest queued order waits at most this "
                                                                     "long for its batch to fill (default 0: a batch "
                                                                     "is what queued while the last one ran)")
    p.add_argument("--queue-max", type=int, default=256, help="orders waiting at most; over it 503 + Retry-After")
    p.add_argument("--request-timeout-s", type=float, default=2.0,
                   help="a dispatch request with no decision this long after it arrived gets 503, and one the queue "
                        "ahead of it would make miss that deadline gets it at once (default 2)")
    p.add_argument("--max-in-flight", type=int, default=64,
                   help="POST /v1/dispatch requests handled at once per worker, counted from arrival; one more "
                        "gets 503 + Retry-After at once (0: no limit; default 64)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes serving the one socket, each with its own model (default 1; see the README's "
                        "Service section for the measured choice per core count)")
    p.add_argument("--access-log", action="store_true", help="uvicorn access log (paths only, masked)")
    p.set_defaults(func=cmd_serve)

    k = sub.add_parser("keys", help="make, list or revoke the service's API keys",
                       description="Keys file: JSON, mode 0600, each key's id, role and salted scrypt hash (never "
                                   "the secret). Roles: dispatch (dispatch and read the model), operator (also "
                                   "write corrections), admin (also reload the model).")
    ksub = k.add_subparsers(dest="keys_command", metavar="{add,list,revoke}")
    ksub.required = True
    ka = ksub.add_parser("add", help="make a key and print its secret (once)")
    ka.add_argument("--id", required=True, help="the key's id (letters, digits, - and _): recorded as the operator")
    ka.add_argument("--role", required=True, choices=("dispatch", "operator", "admin"))
    kl = ksub.add_parser("list", help="ids, roles and creation times")
    kr = ksub.add_parser("revoke", help="remove a key (a running server refuses it from its next request)")
    kr.add_argument("--id", required=True)
    for q in (ka, kl, kr):
        q.add_argument("--keys-file", help=f"the keys file (default ${KEYS_ENV})")
        q.set_defaults(func=cmd_keys)

    c = sub.add_parser("corrections", help="import, export or count operators' corrections")
    csub = c.add_subparsers(dest="corrections_command", metavar="{import,export,stats}")
    csub.required = True
    i = csub.add_parser("import", help="record corrections from a CSV/TSV/JSONL/XLSX table",
                        description="Columns: order_id (or id), operator, kind (改派/退单), category_code or "
                                    "category_path (a > b > c), unit, district, street (12-digit codes), appeal_type, "
                                    "catalog_version, decision_model_version, decision (JSON), text, title, reason, "
                                    "corrected_at, correction_id. Rows that fail are listed; the rest are stored in "
                                    "one transaction; re-importing the same correction_id stores nothing twice.")
    i.add_argument("file")
    i.add_argument("--db", default="corrections.db", help="SQLite file or SQLAlchemy URL (default corrections.db)")
    i.add_argument("--encoding")
    i.set_defaults(func=cmd_corrections_import)
    e = csub.add_parser("export", help="write the latest correction per order as a training table")
    e.add_argument("--db", default="corrections.db")
    e.add_argument("-o", "--output", required=True, help=".jsonl, .csv or .tsv")
    e.add_argument("--catalog", help="express categories in this catalog (migrating older codes)")
    e.add_argument("-m", "--model", help="express categories in this model's catalog")
    e.add_argument("--since", help="only corrections made at or after this ISO time")
    e.set_defaults(func=cmd_corrections_export)
    s = csub.add_parser("stats", help="count corrections by kind, field and model")
    s.add_argument("--db", default="corrections.db")
    s.set_defaults(func=cmd_corrections_stats)

    r = sub.add_parser("retrain", help="train a challenger from history + corrections and compare it with the champion",
                       description="Merge corrections over the history table (the latest correction of an order "
                                   "wins), train a challenger with the champion's options, and evaluate champion and "
                                   "challenger on a frozen evaluation set and on held-out recent corrections. The "
                                   "report goes to CHALLENGER/evaluation.json and stdout.")
    r.add_argument("--history", required=True, help="labeled history table")
    r.add_argument("--corrections", help="corrections store (SQLite file or SQLAlchemy URL)")
    r.add_argument("-m", "--model", required=True, help="the current model (champion)")
    r.add_argument("-o", "--output", required=True, help="the challenger model directory to write")
    add_column_flags(r)
    r.add_argument("--eval", help="frozen evaluation table (same columns); default: a fixed slice of the history by id")
    r.add_argument("--eval-ratio", type=float, default=0.1)
    r.add_argument("--holdout", type=float, default=0.2, help="share of corrected orders kept out of training to "
                                                              "evaluate on (default 0.2)")
    r.add_argument("--catalog", help="the challenger's catalog (a revision: labels migrate through its map)")
    r.add_argument("--history-catalog", help="catalog revision the history labels are written in")
    r.add_argument("--since", help="only corrections made at or after this ISO time")
    r.add_argument("--encoder", help="encoder checkpoint (default: the champion's, when it still exists)")
    r.add_argument("--linear-only", action="store_true", help="no encoder member")
    r.add_argument("--epochs", type=float)
    r.add_argument("--tolerance", type=float, default=0.01)
    r.add_argument("--model-version")
    r.add_argument("-q", "--quiet", action="store_true")
    r.set_defaults(func=cmd_retrain)

    p = sub.add_parser("promote", help="install a challenger in a registry unless a head got worse",
                       description="Install CHALLENGER as the registry's current model when no head's accuracy (on "
                                   "the frozen set and on the recent corrections, from its evaluation.json) is below "
                                   "the champion's by more than --tolerance. Exit 1 when refused.")
    p.add_argument("challenger")
    p.add_argument("--registry", required=True)
    p.add_argument("--tolerance", type=float, default=0.01)
    p.add_argument("--force", action="store_true", help="promote even if a head regressed (logged as forced)")
    p.add_argument("--trust", action="store_true",
                   help="install a challenger without checksums.json (its checksums are written into the installed "
                        "copy, and the install is logged as trusted); refused otherwise")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("rollback", help="return the registry to the model in service before the current one")
    p.add_argument("--registry", required=True)
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("registry", help="list a registry's versions, current model and history")
    p.add_argument("registry")
    p.set_defaults(func=cmd_registry)
