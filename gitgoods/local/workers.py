"""Several waitress processes on one listening socket, kept running by a small supervisor.

One process shares one GIL across its threads, so a CPU-bound app (the shop's pages, the order
service's validation and encryption) uses at most one core however many threads it has. With
`--workers N`, `gitgoods.local.serve` binds the socket once, forks N workers *before* loading the
app (no thread, client or connection pool crosses a fork) and each worker serves the shared
socket with its own waitress loop: the kernel hands each new connection to whichever worker
accepts it first. The supervisor only watches:

- a worker that dies (a crash, the OOM killer, SIGKILL) is replaced at once, and its in-flight
  requests fail as a dropped connection would; the other workers go on serving meanwhile;
- a worker that keeps dying (`CRASH_LOOP` deaths within `CRASH_WINDOW_S`) stops the service with
  an error, instead of restarting it forever;
- SIGTERM/SIGINT go to every worker, which stop gracefully (serve.py), and are killed after the
  graceful timeout plus a margin.

State held in a worker's memory is per worker: in-memory rate limits count per worker (shared
through Redis when `REDIS_URL` is set, docs/storefront.md), and a read cache is per worker, which
is why the catalog, whose cache is kept fresh by stock notices that reach one process, runs one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger("gitgoods.serve")

CRASH_LOOP = 5
CRASH_WINDOW_S = 30.0


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.set_inheritable(True)
    return sock


class Supervisor:
    def __init__(self, workers: int, run_worker: Callable[[], None], graceful_timeout: float):
        self.workers = workers
        self.run_worker = run_worker
        self.graceful_timeout = graceful_timeout
        self.children: dict[int, float] = {}
        self.deaths: list[float] = []
        self.stopping = False

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                self.run_worker()
            except BaseException:
                log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                # The app's exit handlers (the shop's funnel emitter flushes its queue) run
                # here; os._exit then skips what the fork copied from the supervisor.
                atexit._run_exitfuncs()
                os._exit(code)
        self.children[pid] = time.monotonic()
        log.info("worker %d started", pid)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("signal %d: stopping %d workers", signum, len(self.children))
            for pid in list(self.children):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.pop(pid, None)
            if self.stopping:
                continue
            how = (f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                   else f"exit code {os.WEXITSTATUS(status)}")
            now = time.monotonic()
            self.deaths = [t for t in self.deaths if now - t < CRASH_WINDOW_S] + [now]
            if len(self.deaths) >= CRASH_LOOP:
                log.error("worker %d stopped (%s): %d deaths in %.0fs, giving up", pid, how, len(self.deaths),
                          CRASH_WINDOW_S)
                self._on_signal(signal.SIGTERM, None)
                self.failed = True
                continue
            log.warning("worker %d stopped (%s); starting another", pid, how)
            self._spawn()

    def run(self) -> int:
        self.failed = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for _ in range(self.workers):
            self._spawn()
        while not self.stopping:
            self._reap()
            time.sleep(0.2)
        deadline = time.monotonic() + self.graceful_timeout + 3
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.1)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reap()
        return 1 if self.failed else 0
