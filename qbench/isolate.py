"""Run one configuration in a child process that can be killed, and always leave a record.

A sweep must survive runs that hang, crash or run out of memory. The run therefore executes in
a child Python process (``python -m qbench.isolate DIR``, config as JSON on stdin) in its own
session; the parent (a launcher worker) waits at most ``timeout_s`` seconds, kills the child's
whole process group when the limit passes, and writes the ``timeout`` or crash record itself.
A run that finishes writes its own record, atomically (:func:`qbench.records.write_record`).

What is never written: a record for a run that was interrupted from outside (the sweep or the
Slurm job was cancelled). The parent then kills the child and exits without a record, so a
restarted sweep runs it again instead of counting a half-run as done.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qbench.records import RECORD_FILE, Status, read_record, write_record

LOG_FILE = "run.log"
_PARENT_ENV = "QBENCH_PARENT_PID"
_MEMORY_ENV = "QBENCH_MEMORY_LIMIT_MB"
_TAIL_LINES = 40
#: The children this process supervises right now (for :func:`kill_running_children`).
_running: set[subprocess.Popen] = set()
# What Python, C++ and C libraries print when an allocation fails, and what the dynamic loader
# says when an address-space limit leaves no room to map a shared library (seen here: importing
# pyscipopt under memory_limit_mb=300, "libscip-....so: failed to map segment from shared object").
_OUT_OF_MEMORY = ("MemoryError", "std::bad_alloc", "Cannot allocate memory", "Memory allocation",
                  "failed to map segment from shared object")


def run_isolated(
    config: dict[str, Any],
    directory: str | Path,
    timeout_s: float | None = None,
    memory_limit_mb: int | None = None,
) -> Status:
    """Run ``config`` in a child process; its record ends up in ``directory``. Returns its status.

    A record already in ``directory`` (a failed earlier attempt being retried) is removed first,
    so the record found afterwards is this attempt's. Callers never call this for an ``ok`` run.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record_path = directory / RECORD_FILE
    record_path.unlink(missing_ok=True)
    log_path = directory / LOG_FILE
    env = {**os.environ, _PARENT_ENV: str(os.getpid())}
    if memory_limit_mb:
        env[_MEMORY_ENV] = str(int(memory_limit_mb))
    started = time.perf_counter()
    with open(log_path, "w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "qbench.isolate", str(directory)],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True,
            start_new_session=True, env=env,
        )
        _running.add(child)
        try:
            with _kill_child_when_interrupted(child):
                try:
                    child.stdin.write(json.dumps(config))
                    child.stdin.close()
                except BrokenPipeError:  # the child died at start-up; its exit status says why
                    pass
                try:
                    returncode = child.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    _kill_group(child)
                    return _write_failure(
                        config, directory, "timeout",
                        f"exceeded the wall-clock limit of {timeout_s:g} s (timeout_s); the run was killed",
                        time.perf_counter() - started, log_path,
                    )
        finally:
            _running.discard(child)
    if record_path.exists():
        # The child wrote its record (an ``ok`` or ``error`` run); a non-zero exit after that
        # (e.g. a crash at interpreter shutdown) does not change what the run produced.
        with contextlib.suppress(ValueError, OSError):
            return read_record(record_path).status
    reason = f"the run crashed: {_describe_exit(returncode)}"
    tail = _tail(log_path)
    marker = next((m for m in _OUT_OF_MEMORY if m in tail), None)
    if marker:
        reason += f" (out of memory: {marker!r} in its output; memory_limit_mb={memory_limit_mb})"
    return _write_failure(config, directory, "error", reason, time.perf_counter() - started, log_path)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (the system may have run out of memory)" if name == "SIGKILL" else ""
        return f"killed by {name}{hint}"
    return f"exit status {returncode} without a record"


def _write_failure(config: dict[str, Any], directory: Path, status: Status, reason: str,
                   elapsed: float, log_path: Path) -> Status:
    from qbench.runner import new_record

    from qbench.secrets import redact

    record = new_record(config)
    record.status, record.error = status, reason
    record.error_traceback = redact(_tail(log_path)) or None
    record.times = {"total": round(elapsed, 6)}
    write_record(record, directory)
    return status


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-_TAIL_LINES:])


def _kill_group(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


@contextlib.contextmanager
def _kill_child_when_interrupted(child: subprocess.Popen) -> Iterator[None]:
    """On SIGTERM/SIGINT (sweep or Slurm job cancelled): kill the child, exit without a record."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: Any) -> None:
        _kill_group(child)
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, interrupted) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            _kill_group(child)


def kill_running_children() -> None:
    """Kill every run this process supervises, with its process group (the supervisor is
    going away; the interrupted runs leave no record)."""
    for child in list(_running):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no orphaned runs)."""
    parent = int(os.environ.get(_PARENT_ENV, "0"))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if parent and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _limit_memory() -> None:
    """Apply ``memory_limit_mb`` as an address-space limit, so an oversized run fails cleanly."""
    limit = os.environ.get(_MEMORY_ENV)
    if limit:
        import resource

        size = int(limit) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))


def _child_main(directory: str) -> None:
    _die_with_parent()
    _limit_memory()
    from qbench import secrets

    secrets.register_environment()
    config = json.loads(sys.stdin.read())
    from qbench import runner

    record = runner.execute(config)
    write_record(record, directory)


if __name__ == "__main__":
    _child_main(sys.argv[1])
