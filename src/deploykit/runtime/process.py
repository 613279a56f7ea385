"""Engine processes: started in their own session (so a whole process tree can be signalled), output to a log
file, stopped with SIGTERM then SIGKILL. A pid is only trusted together with its start time."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def start(argv: list[str], *, env: dict[str, str], log_path: Path, cwd: Path | None = None) -> subprocess.Popen:
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab", buffering=0)  # noqa: SIM115 - the child owns it once started
    except OSError as exc:
        from deploykit.atomic import write_error
        raise write_error(exc, log_path) from exc
    env = {"PYTHONUNBUFFERED": "1", **env}  # Python engines block-buffer a file: the log would lag the engine
    try:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                cwd=cwd, start_new_session=True)
    finally:
        log.close()


def start_time(pid: int) -> str | None:
    """The kernel's start time of a pid (clock ticks since boot), or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int | None, started: str | None) -> bool:
    if not pid:
        return False
    now = start_time(pid)
    if now is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and (started is None or now == started)


def ours(pid: int, started: str | None) -> bool:
    """Whether the process group ``pid`` led is still something of ours to stop: the leader itself (same start
    time), or, once the leader has exited, members left in its group (the kernel does not hand a pid out again
    while a process group still uses it as its id, so those members are the engine's children)."""
    if alive(pid, started):
        return True
    now = start_time(pid)
    if now is not None and started is not None and now != started and _state(pid) != "Z":
        return False  # the pid now belongs to an unrelated process
    return _group_alive(pid)


def stop(pid: int, *, grace_s: float = 15.0, started: str | None = None) -> bool:
    """SIGTERM the whole process group, wait up to ``grace_s`` for every member, then SIGKILL the group and wait
    again; this holds when the group's leader has already exited and only its children are left. True when
    something was stopped."""
    if not ours(pid, started):
        _reap(pid)
        return False
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            _reap(pid)
            return True
        except PermissionError:
            if alive(pid, started):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            _reap(pid)
            if not alive(pid, started) and not _group_alive(pid):
                return True
            time.sleep(0.1)
    return True


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a group of zombies still "exists": look for a live member
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def tail(path: Path | str | None, lines: int = 20) -> list[str]:
    if not path:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
