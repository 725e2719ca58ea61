"""`imf`: generate data, run the pipeline, open the Dagster UI."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.environment import MissingDagsterHome, prepare_environment
from pipelines.settings import REPO_ROOT, env

if TYPE_CHECKING:
    import psutil

DEMO_FAULT_RATE = 0.002
# How long `imf ui` gives Dagster's code servers to stop after the UI has, before killing them.
UI_STOP_GRACE_S = 20


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import generate

    started = time.monotonic()
    try:
        manifest = generate(
            Path(args.out),
            scale=args.scale,
            la_code=args.la,
            years=args.years,
            seed=args.seed,
            fault_rate=args.faults,
            progress=_say,
        )
    except FileExistsError as exists:
        _say(f"Not generated: {exists}. Choose an empty --out folder, so generated files "
             "never mix with files already there.")
        return 2
    files = len(manifest.get("files", []))
    _say(f"Wrote {files} landing files to {args.out} in {time.monotonic() - started:.1f} s")
    return 0


def _hold_warehouse(stack: ExitStack, warehouse: Path, wait: bool) -> bool:
    """Take the warehouse's writer lock for this run; False if busy and not waiting."""
    from pipelines.resources.warehouse import WarehouseBusy, writer_lock

    try:
        stack.enter_context(writer_lock(warehouse, timeout_s=0))
        return True
    except WarehouseBusy:
        if not wait:
            _say(f"Not started: another run is writing the warehouse {warehouse}. "
                 "Try again when it has finished (or leave out --no-wait to wait for it).")
            return False
    _say("Another run is writing the warehouse: waiting for it to finish…")
    stack.enter_context(writer_lock(warehouse, timeout_s=24 * 3600))
    return True


def cmd_run(args: argparse.Namespace) -> int:
    warehouse = Path(env("IMF_WAREHOUSE"))
    publish_dir = Path(env("IMF_PUBLISH_DIR"))
    with ExitStack() as stack:
        # The lock comes before the (slow) import of the definitions, so a busy warehouse
        # is reported at once.
        if not _hold_warehouse(stack, warehouse, wait=not args.no_wait):
            return 3
        import dagster as dg

        from pipelines.definitions import defs
        from pipelines.runner import RunFailed, run_all
        from pipelines.summary import print_summary

        instance = stack.enter_context(dg.DagsterInstance.get())
        started = time.monotonic()
        try:
            run_all(defs, instance, progress=_say, quiet=not args.verbose,
                    failure_dir=publish_dir)
        except RunFailed as failed:
            _say(f"✗ {failed}")
            if failed.summary:
                _say(f"  What to do next: {failed.summary}")
            _say("  Every step's logs are in the Dagster UI (`imf ui`).")
            return 1
        print_summary(warehouse, publish_dir, time.monotonic() - started, _say)
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


def absolute_paths(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """`environ` with the IMF_* paths made absolute against `cwd`, where the user typed
    the command: `imf ui` runs Dagster from another folder, and `imf run` reads a relative
    path against the folder it was started in."""
    paths = {"IMF_LANDING_DIR", "IMF_WAREHOUSE", "IMF_PUBLISH_DIR"}
    return {key: str(cwd / value) if key in paths and value.strip() else value
            for key, value in environ.items()}


def cmd_ui(args: argparse.Namespace) -> int:
    """`dagster dev` for this code location on 127.0.0.1, on the instance `imf run` uses.

    DAGSTER_HOME was set by prepare_environment(), so runs started here and by `imf run`
    show in both. `dagster dev` also runs the daemon, which the sensors, schedules and
    the run queue need. Only 127.0.0.1: the UI can start runs and shows data paths.
    """
    home = Path(os.environ["DAGSTER_HOME"]).resolve()
    if not (home / "dagster.yaml").exists():
        _say(f"Note: {home} has no dagster.yaml, so Dagster's defaults apply (no run queue "
             "limit). Link the repository's dagster.yaml there to queue runs one at a time.")
    command = [
        sys.executable, "-m", "dagster", "dev",
        "-m", "pipelines.definitions", "--working-directory", str(REPO_ROOT),
        "--host", "127.0.0.1", "--port", str(args.port),
    ]
    _say(f"Dagster UI on http://127.0.0.1:{args.port} (instance {home}). Ctrl-C stops it.")
    # Links in run-failure summaries point at this UI (read by the code server).
    child_env = {**absolute_paths(os.environ, Path.cwd()), "DAGSTER_HOME": str(home),
                 "IMF_UI_URL": f"http://127.0.0.1:{args.port}"}
    # `dagster dev` runs in a process group of its own and hears a stop signal from this
    # process only, once. Signalled directly along with its code server (a terminal's
    # Ctrl-C, `kill` of a group, a service manager), the code server stops first and
    # `dagster dev`, still busy stopping its webserver and daemon, restarts it: the new
    # one missed the signal and outlives everything (seen under CI load). A second
    # signal in its shutdown also makes it give up ("Aborted!") before stopping them.
    child: subprocess.Popen[bytes] | None = None
    early: list[int] = []

    def _pass_on(signum: int, _frame: object) -> None:
        if child is None:
            early.append(signum)
        else:
            child.send_signal(signum)

    # Our own handlers also mean the child starts with the default dispositions, even when
    # this process inherited SIGINT as ignored (started in the background by a script):
    # `dagster dev` maps SIGTERM onto its SIGINT handling, so it would ignore both.
    previous = {s: signal.signal(s, _pass_on) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Started in DAGSTER_HOME: from any other folder holding a dagster.yaml (the
        # repository's), `dagster dev` warns that that file "will not be used", which
        # reads as if the run queue were not configured (DAGSTER_HOME's is a link to it).
        child = subprocess.Popen(command, cwd=home, env=child_env, process_group=0,
                                 preexec_fn=_stopped_with(os.getpid()))
        for signum in early:
            child.send_signal(signum)
        returncode = child.wait()
        _stop_what_is_left(child.pid)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return returncode


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _stopped_with(parent: int) -> Callable[[], None] | None:
    """For the child, before it runs `dagster dev`: SIGTERM it when this process dies
    (Linux's parent-death signal), even by SIGKILL, which no handler here sees. In its own
    process group, `dagster dev` would otherwise outlive a killed `imf ui`, with its
    webserver, daemon and code servers. None (nothing to arrange) elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def arrange() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def _process_group(pgid: int) -> list[psutil.Process]:
    import psutil  # only `imf ui` needs it: not imported by every command

    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _stop_what_is_left(pgid: int) -> None:
    """Stop what `dagster dev` leaves in its group: it asks its code servers to stop but
    does not wait for them, nor for a run one of them was executing (which then fails
    and leaves the warehouse as it was, like any killed run)."""
    import psutil

    left = _process_group(pgid)
    if not left:
        return
    for process in left:
        with suppress(psutil.Error):
            process.terminate()
    _, alive = psutil.wait_procs(left, timeout=UI_STOP_GRACE_S)
    if alive:
        _say(f"{len(alive)} Dagster process(es) still running {UI_STOP_GRACE_S} s after "
             f"the UI stopped; killed: {', '.join(str(p.pid) for p in alive)}")
        for process in alive:
            with suppress(psutil.Error):
                process.kill()


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
    try:
        prepare_environment()
    except MissingDagsterHome as missing:
        _say(f"Not started: {missing}")
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
