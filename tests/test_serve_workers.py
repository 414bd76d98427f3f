"""Several worker processes behind one socket (`gitgoods.local.serve --workers N`,
gitgoods/local/workers.py): both serve, a worker killed with SIGKILL is replaced while the other
goes on serving, SIGTERM stops them all, and an app that cannot start stops the supervisor with
an error instead of a restart loop. Loopback only; every wait is bounded."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitgoods.settings import REPO_ROOT
from tests.conftest import free_port


def _get(port: int, path: str = "/", timeout: float = 3.0) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        assert resp.status == 200
        return int(resp.read())
    finally:
        conn.close()


def _children(pid: int) -> set[int]:
    try:
        return {int(x) for x in open(f"/proc/{pid}/task/{pid}/children").read().split()}
    except OSError:
        return set()


def _wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout}s")


def _start(app: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "gitgoods.local.serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--graceful-timeout", "1", "--no-access-log", app]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc, port


@pytest.fixture
def two_workers() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    if not sys.platform.startswith("linux"):
        pytest.skip("the worker supervisor forks and reads /proc: Linux only")
    proc, port = _start("tests.serve_apps:pid_app", 2)
    try:
        _wait(lambda: len(_children(proc.pid)) == 2 and _ping(port), 20, "two workers answering")
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            for child in _children(proc.pid):
                os.kill(child, signal.SIGKILL)
        proc.wait(10)


def _ping(port: int) -> bool:
    try:
        _get(port, timeout=1)
        return True
    except OSError:
        return False


def test_two_workers_serve_the_one_port(two_workers: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = two_workers
    workers = _children(proc.pid)
    # Requests that each take a moment, sent together: one process alone would serve them one
    # after another on its 16 threads too, so look for both pids among the answers.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(16) as pool:
        pids = set(pool.map(lambda _: _get(port, "/?sleep=0.2"), range(64)))
    assert pids <= workers
    assert len(pids) == 2, f"only {pids} of {workers} answered"


def test_a_killed_worker_is_replaced_and_the_other_serves_meanwhile(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = two_workers
    before = _children(proc.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    survivor = (before - {victim}).pop()
    # Right after the kill every request is still answered (by the survivor or the new worker).
    answered = {_get(port) for _ in range(20)}
    assert victim not in answered
    assert answered <= _children(proc.pid) | {survivor}
    def replaced() -> set[int] | None:
        now = _children(proc.pid)
        return now if len(now) == 2 and victim not in now else None

    after = _wait(replaced, 20, "a new worker in the killed one's place")
    assert survivor in after and len(after - before) == 1
    assert proc.poll() is None


def test_sigterm_stops_every_worker(two_workers: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = two_workers
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    for pid in workers:  # gone, or a zombie waiting for init to reap it
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "\nState:\tZ" in status.read_text()
    assert not _ping(port)


def test_an_app_that_cannot_start_stops_the_supervisor_instead_of_looping() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the worker supervisor forks and reads /proc: Linux only")
    proc, _port = _start("tests.serve_apps:broken()", 2)
    try:
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert code == 1
    assert "giving up" in out and "this app cannot start" in out
