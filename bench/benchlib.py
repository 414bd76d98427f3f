"""What the benchmark scripts share: memory read from /proc, free loopback ports, waiting for a
server or a quiet machine, and the helper processes a benchmark starts and stops by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path


def status_mb(field: str) -> float:
    """A memory field of this process's /proc status (VmRSS, VmHWM, ...) in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    return status_mb("VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (loopback)
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class Proc:
    """A helper process this benchmark started (stopped by its pid only)."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str] | None = None, ready: str | None = None):
        self.log = log
        self.fh = log.open("wb")
        self.popen = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE if ready else self.fh,
            stderr=self.fh,
            env=env,
            start_new_session=True,
        )
        self.port: int | None = None
        if ready:
            deadline = time.monotonic() + 60
            assert self.popen.stdout is not None
            os.set_blocking(self.popen.stdout.fileno(), False)
            buf = b""
            while time.monotonic() < deadline and self.popen.poll() is None:
                chunk = self.popen.stdout.read() or b""
                buf += chunk
                if ready.encode() in buf:
                    self.port = int(buf.split(ready.encode(), 1)[1].split()[0])
                    return
                time.sleep(0.05)
            self.stop()
            raise RuntimeError(f"{cmd[:3]} did not start: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self.fh.close()

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.popen.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0


def wait_for_quiet(max_wait: float, threshold: float) -> float:
    """Wait (bounded) until the 1-minute load average is below `threshold`; the load at the end."""
    deadline = time.monotonic() + max_wait
    load = os.getloadavg()[0]
    while load > threshold and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()[0]
    return load
