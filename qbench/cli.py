"""``python -m qbench``: run, list, instances, sweep, collect, report, dashboard.

``run`` hands its arguments to Hydra (overrides, ``-m`` for multirun, ``--cfg job``); before
that, the overrides are checked with Hydra's compose API so that a typo gives one line, not a
stack trace, and a run refused there still leaves its error record (:mod:`qbench.refused`).
Credentials in the environment are registered as secrets first thing, so nothing printed or
written afterwards can show them (:mod:`qbench.secrets`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from qbench import secrets
from qbench.errors import QbenchError

PROG = "python -m qbench"


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, with secrets masked in its messages (usage errors echo the arguments)."""

    def _print_message(self, message: str, file=None) -> None:
        super()._print_message(secrets.redact(message) if message else message, file)


def main(argv: Sequence[str] | None = None) -> None:
    secrets.register_environment()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        _run(argv[1:])
        return
    parser = _parser()
    if argv and argv[0] == "sweep":
        # Hydra overrides may follow the flags (sweep --dry-run seed=0,1): collect them all.
        args, extra = parser.parse_known_args(argv)
        flags = [a for a in extra if a.startswith("-")]
        if flags:
            parser.error(f"unrecognized arguments: {' '.join(flags)}")
        args.overrides += extra
    else:
        args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        sys.exit(2)
    try:
        code = args.handler(args)
    except QbenchError as exc:
        _fail(exc)
    sys.exit(code or 0)


def _fail(exc: BaseException, record: Path | None = None) -> None:
    print(f"qbench: error: {secrets.redact(str(exc))}", file=sys.stderr)
    if record is not None:
        print(f"record     {record}", file=sys.stderr)
    if os.environ.get("QBENCH_DEBUG"):
        raise exc
    sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog=PROG, description="Quantum and classical optimization benchmarks.")
    sub = parser.add_subparsers(metavar="COMMAND")
    sub.add_parser("run", help="run one configuration (Hydra overrides follow; -m for a sweep)")

    p = sub.add_parser("list", help="problems, solvers, backends, formulations, shipped instances")
    p.set_defaults(handler=_cmd_list)

    p = sub.add_parser("instances", help="list, fetch or verify named benchmark instances")
    isub = p.add_subparsers(metavar="ACTION", required=True)
    f = isub.add_parser("fetch", help="download instances into the cache, verifying sha256")
    f.add_argument("names", nargs="*", help="instance names (or KIND/NAME)")
    f.add_argument("--all", action="store_true", help="every instance in the manifests")
    f.add_argument("--mirror", default=os.environ.get("QBENCH_MIRROR"),
                   help="base URL serving KIND/FILE instead of the source URLs")
    f.set_defaults(handler=_cmd_fetch)
    v = isub.add_parser("list", help="every named instance and where it is available")
    v.set_defaults(handler=_cmd_instances_list)
    _add_sweep_parsers(sub)
    _add_dashboard_parser(sub)
    return parser


def _add_sweep_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="run an experiment's grid (resumable; local or Slurm)",
                       description="Run every configuration of experiments/NAME.yaml that has no "
                       "record yet. Hydra overrides follow, e.g. seed=0,1,2 hydra/launcher=slurm.")
    p.add_argument("overrides", nargs="*", help="experiment=NAME, then Hydra overrides")
    p.add_argument("--rerun-failed", action="store_true", help="also retry runs whose record is error/timeout")
    p.add_argument("--dry-run", action="store_true",
                   help="list the grid with each run's status and estimate, and the totals; run nothing")
    p.add_argument("--force", action="store_true",
                   help="start runs estimated past timeout_s or the available memory (force=true)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_sweep)

    p = sub.add_parser("collect", help="gather run records under DIR into a Parquet store")
    p.add_argument("directory", help="a results directory (e.g. results/smoke)")
    p.add_argument("--out", help="Parquet file (default DIR/store/records.parquet)")
    p.add_argument("--query", help="SQL over the table `records` (DuckDB), printed")
    p.set_defaults(handler=_cmd_collect)

    p = sub.add_parser("report", help="tables (markdown, CSV) and figures (PNG) from the records under DIR")
    p.add_argument("directory", help="a results directory (e.g. results/smoke)")
    p.add_argument("--out", help="output directory (default DIR/report)")
    p.add_argument("--qoblib", action="store_true",
                   help="also export market-split and MIS results in QOBLIB's submission format")
    p.add_argument("--submitter", default="N/A", help="QOBLIB: author name(s)")
    p.add_argument("--affiliation", default="N/A", help="QOBLIB: affiliation(s)")
    p.add_argument("--hardware", default="N/A", help="QOBLIB: hardware the runs used")
    p.add_argument("--epsilon", type=float, default=0.0,
                   help="success threshold: relative gap to the reference (default 0: optimal only); "
                        "also QOBLIB's success threshold")
    p.set_defaults(handler=_cmd_report)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from qbench import sweep

    logging.getLogger("qiskit").setLevel(logging.WARNING)
    overrides = args.overrides + (["force=true"] if args.force else [])
    return sweep.main(overrides, rerun_failed=args.rerun_failed, dry_run=args.dry_run,
                      progress=not args.no_progress)


def _cmd_collect(args: argparse.Namespace) -> int:
    from qbench import store

    frame, path = store.collect(args.directory, args.out)
    print(store.describe(frame, path))
    if args.query:
        print(store.query(path, args.query).to_string(index=False))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from qbench import report

    return report.main(args.directory, args.out, qoblib=args.qoblib, submitter=args.submitter,
                       affiliation=args.affiliation, hardware=args.hardware, epsilon=args.epsilon)


def _add_dashboard_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="interactive web view of the records under DIR (Streamlit, local only)")
    p.add_argument("directory", help="a results directory (e.g. results/)")
    p.add_argument("--port", type=int, default=8501, help="port on 127.0.0.1 (default 8501)")
    p.set_defaults(handler=_cmd_dashboard)


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from qbench.dashboard import serve

    return serve.serve(args.directory, args.port)


def _run(overrides: list[str]) -> None:
    from qbench import overrides as checks

    # --force: start a run even when its estimate exceeds timeout_s or the available memory.
    overrides = [("force=true" if o == "--force" else o) for o in overrides]
    config = None
    try:
        config = checks.compose_first(overrides)
        checks.check_config(config)
    except QbenchError as exc:
        from qbench.refused import write_refused_record

        _fail(exc, write_refused_record(overrides, str(exc), config))
    from qbench.app import run_job

    logging.getLogger("qiskit").setLevel(logging.WARNING)
    sys.argv = [f"{PROG} run", *overrides]
    run_job()


def _cmd_list(args: argparse.Namespace) -> int:
    from qbench import instances, registry

    for group in ("problem", "solver", "backend", "formulation"):
        print(f"{group}s: {', '.join(registry.choices(group))}")
    print("\nshipped instances (available = found in QBENCH_INSTANCES or the cache):")
    for kind in registry.choices("problem"):
        family = registry.problem_family(kind)
        entries = instances.manifest(kind).values()
        print(f"  {kind} - {family.description}")
        for entry in entries:
            where = "available" if instances.locate(entry, verify=False) else "not fetched"
            ref = "-" if entry.reference is None else entry.reference
            if isinstance(ref, dict):
                ref = f"{len(ref)} settings"
            print(f"    {entry.name:<34} ref {ref!s:<14} {where}")
    return 0


def _select(names: list[str], everything: bool):
    from qbench import instances

    entries = instances.all_entries()
    if everything:
        return entries
    if not names:
        raise QbenchError("name instances to fetch, or pass --all")
    chosen = []
    for name in names:
        kind, _, short = name.rpartition("/")
        found = [e for e in entries if e.name == short and (not kind or e.kind == kind)]
        if not found:
            raise QbenchError(f"unknown instance {name!r}; see `{PROG} instances list`")
        chosen.extend(found)
    return chosen


def _cmd_fetch(args: argparse.Namespace) -> int:
    from qbench import instances

    entries = _select(args.names, args.all)
    for i, entry in enumerate(entries, 1):
        directory = instances.fetch(entry, mirror=args.mirror)
        print(f"[{i}/{len(entries)}] {entry.kind}/{entry.name}: {directory}", flush=True)
    return 0


def _cmd_instances_list(args: argparse.Namespace) -> int:
    from qbench import instances

    for entry in instances.all_entries():
        where = instances.locate(entry, verify=False)
        print(f"{entry.kind:<9} {entry.name:<34} {where or 'not fetched'}")
    return 0
