"""What the local services (``streams dev kafka``, ``streams dev registry``) share: building
their Java artifacts with Maven, and finding and stopping their processes by pid file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from streams.errors import UserError


def maven_package(args: list[str], what: str, error: type[UserError]) -> None:
    """``mvn -q -B <args> package``; ``error`` with the end of Maven's output if it fails."""
    if shutil.which("mvn") is None:
        raise error(f"Maven (mvn) is needed once, for {what}")
    if shutil.which("java") is None:
        raise error(f"Java 17 (java) is needed, for {what}")
    result = subprocess.run(
        ["mvn", "-q", "-B", *args, "package"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
        raise error(f"{what} with Maven failed: " + " | ".join(tail))


def running_pid(pid_file: Path, *markers: str) -> int | None:
    """The pid in ``pid_file`` if that process runs with every marker among its arguments; a
    stale pid file (the process is gone, or the pid now belongs to another) is removed."""
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        cmdline = []
    if all(marker.encode() in cmdline for marker in markers):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def stop_process(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL once ``timeout`` has passed; returns when the process is gone."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if process_alive(pid):
        os.kill(pid, signal.SIGKILL)
        while process_alive(pid):
            time.sleep(0.1)


def process_alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # not our child: fall back to the signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


def stop_by_pid_file(pid_file: Path, pid: int | None, timeout: float) -> bool:
    """Stop the service whose running pid (from ``pid_file``) is ``pid`` and remove the file;
    False if it was not running."""
    if pid is None:
        return False
    stop_process(pid, timeout)
    pid_file.unlink(missing_ok=True)
    return True
