"""What the benchmark scripts share: memory read from /proc, free loopback ports, waiting for a
server or a quiet machine, the helper processes a benchmark starts and stops by pid, and the
child processes each step runs in (config file in, one RESULT line out, a deadline)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any


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


# -- child processes: one step or approach each, with a config file and a RESULT line -------------


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a benchmark child: fake AWS credentials only (never a profile or instance
    metadata), the local environment, unbuffered output; then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GITGOODS_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",  # noqa: S105
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true",
            "GITGOODS_ENV": "local",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def add_run_args(parser: Any, *, timeout: float, profile: str) -> None:
    """The options every benchmark runner takes: the child timeout, waiting for a quiet machine,
    the JSON output, a cProfile file, and the hidden ones a child process is started with."""
    import argparse

    parser.add_argument("--timeout", type=float, default=timeout, help="seconds per child process")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to this many s for load < 1.0")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--profile", type=Path, help=f"cProfile the {profile} run into this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)


def run_child_main(
    children: dict[str, Callable[[dict[str, Any]], dict[str, Any]]],
    kind: str,
    cfg_path: str,
    *,
    system_allocator: Collection[str] = frozenset(),
) -> int:
    """In the child: run `children[kind]` on the JSON config (under cProfile when it names a
    `profile` file) and print its result as one `RESULT {...}` line, with the peak RSS. Children
    named in `system_allocator` run pipeline code and put Arrow on the system allocator first, as
    the pipeline's own processes do (`pipelines/arrow_memory.py`)."""
    if kind in system_allocator:
        from pipelines.arrow_memory import use_system_allocator

        use_system_allocator()
    cfg = json.loads(Path(cfg_path).read_text())
    profile = cfg.get("profile")
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
        result = children[kind](cfg)
        prof.disable()
        prof.dump_stats(profile)
    else:
        result = children[kind](cfg)
    # The peak of this process image. Not wait4's ru_maxrss: Linux carries the parent's high-water
    # mark over the fork/vfork + exec into the child's, so a child of a bigger parent reads as big.
    result["peak_rss_mb"] = status_mb("VmHWM")
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def wait_child(proc: subprocess.Popen, timeout: float, what: str, err_path: Path) -> Any:
    """Wait for a child with a deadline (killed past it); its exit code is set on `proc` and its
    resource usage (wait4: CPU, ru_maxrss) returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    os.wait4(proc.pid, 0)
    raise RuntimeError(f"{what} ran over {timeout}s; see {err_path}")
