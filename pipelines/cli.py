"""`imf`: generate data, run the pipeline, open the Dagster UI."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from pipelines.environment import prepare_environment
from pipelines.settings import REPO_ROOT, env

DEMO_FAULT_RATE = 0.002


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import generate

    started = time.monotonic()
    manifest = generate(
        Path(args.out),
        scale=args.scale,
        la_code=args.la,
        years=args.years,
        seed=args.seed,
        fault_rate=args.faults,
        progress=_say,
    )
    files = len(manifest.get("files", []))
    _say(f"Wrote {files} landing files to {args.out} in {time.monotonic() - started:.1f} s")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.resources.warehouse import WarehouseBusy, writer_lock
    from pipelines.runner import RunFailed, run_all
    from pipelines.summary import print_summary

    warehouse = Path(env("IMF_WAREHOUSE"))
    timeout = 0.0 if args.no_wait else 3600.0
    try:
        with writer_lock(warehouse, timeout_s=timeout):
            instance = dg.DagsterInstance.get()
            started = time.monotonic()
            run_all(defs, instance, progress=_say, quiet=not args.verbose)
            elapsed = time.monotonic() - started
    except WarehouseBusy as busy:
        _say(f"Not started: {busy} Try again when it has finished.")
        return 3
    except RunFailed as failed:
        _say(f"✗ {failed}\nSee the run in the Dagster UI (`imf ui`) for every step's logs.")
        return 1
    print_summary(warehouse, Path(env("IMF_PUBLISH_DIR")), elapsed, _say)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    landing = Path(env("IMF_LANDING_DIR"))
    if not any(landing.glob("*/*")):
        _say(f"No landing files in {landing}: generating the demo local authority's data.")
        gen = argparse.Namespace(
            out=str(landing), scale="demo", la=None, years=3, seed=42, faults=DEMO_FAULT_RATE
        )
        cmd_generate(gen)
    return cmd_run(args)


def cmd_ui(args: argparse.Namespace) -> int:
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-m", "pipelines.definitions",
        "--host", "127.0.0.1", "--port", str(args.port),
    ]
    _say(f"Dagster UI on http://127.0.0.1:{args.port} (instance {os.environ['DAGSTER_HOME']})")
    return subprocess.call(command, cwd=REPO_ROOT)


def cmd_register_import(args: argparse.Namespace) -> int:
    from pipelines.reference.register import import_gias_extract

    written = import_gias_extract(Path(args.extract))
    _say(f"Register refreshed from {args.extract}: {written}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imf",
        description="Outcome-led accountability for the Inclusive Mainstream Fund.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic landing files (seeded)")
    gen.add_argument("--scale", choices=["demo", "la", "national"], default="demo")
    gen.add_argument("--la", help="local authority code (3 digits) for --scale la")
    gen.add_argument("--years", type=int, default=3)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--faults", type=float, default=0.0, help="share of rows made bad")
    gen.add_argument("--out", required=True, help="landing folder to write")
    gen.set_defaults(func=cmd_generate)

    for name, func, text in (
        ("run", cmd_run, "materialise every asset for everything in the landing area"),
        ("demo", cmd_demo, "generate the demo landing data if there is none, then run"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--no-wait", action="store_true",
                         help="exit at once if another run is writing the warehouse")
        cmd.add_argument("--verbose", action="store_true", help="show Dagster's own logs")
        cmd.set_defaults(func=func)

    ui = sub.add_parser("ui", help="start the Dagster UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    reg = sub.add_parser("register-import", help="refresh seeds/schools.csv from GIAS")
    reg.add_argument("extract", help="a GIAS edubasealldata*.csv file")
    reg.set_defaults(func=cmd_register_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prepare_environment()
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
