"""Supervise long-running service processes by pid file.

Every service runs in the foreground of its own session (so its whole process
group can be signalled), with stdout/stderr appended to one log file. Liveness is
read from /proc rather than trusted from the pid file: a stale pid file, a zombie
or a recycled pid belonging to another program all count as "not running".
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StartError(RuntimeError):
    pass


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name is parenthesised and may contain spaces: the state
    # field follows the last ')'.
    return stat.rsplit(")", 1)[1].split()[0]


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def running_pid(pidfile: Path, program: str) -> int | None:
    """The pid recorded in ``pidfile`` if that process is alive and runs ``program``."""
    pid = read_pid(pidfile)
    if pid is None:
        return None
    state = _proc_state(pid)
    if state is None or state in ("Z", "X"):
        return None
    argv = _cmdline(pid)
    if not any(Path(arg).name.startswith(program) for arg in argv[:3]):
        return None
    return pid


def spawn(
    argv: Sequence[str],
    *,
    pidfile: Path,
    logfile: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(logfile, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=cwd,
        )
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def stop(pidfile: Path, program: str, *, timeout: float = 15.0) -> bool:
    """Stop the process group led by the pid in ``pidfile``. True if it was running.

    Returns once every member of the group is gone, not only its leader: a
    service's workers must not outlive it holding its ports.
    """
    pid = running_pid(pidfile, program)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_members(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if group_members(pid):
        _signal_group(pid, signal.SIGKILL)
        wait_for(lambda: not group_members(pid), 5.0, f"{program} to die")
    pidfile.unlink(missing_ok=True)
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def wait_for(check: Callable[[], object], timeout: float, what: str, *, interval: float = 0.05):
    """Poll ``check`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # readiness probes fail by raising until the service is up
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f": last error {last_error!r}" if last_error else ""
            raise StartError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def tail(logfile: Path, lines: int = 30) -> str:
    try:
        return "\n".join(logfile.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
