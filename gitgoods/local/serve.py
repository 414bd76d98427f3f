"""Serve one of the WSGI apps (the catalog, the order service, the seller portal) with waitress.

    python -m gitgoods.local.serve --bind 127.0.0.1:5001 'storefront.catalog.app:create_app()'

Why waitress (docs/serving.md has the measurements): its I/O loop reads each request's headers
and whole body itself, a few bytes at a time if that is how they come, and hands only complete
requests to its worker threads. A slow or stalled client therefore costs a buffer and a socket,
never a worker thread, so /health, pages and orders keep answering while hundreds of connections
dribble their bodies. gunicorn's gthread worker gave each connection a thread while the app read
its body: 2 workers x 16 threads were gone after some 32 such connections.

Besides waitress' own server this module adds what the gunicorn command gave: an access log line
on stdout for each request, and a graceful stop on SIGTERM/SIGINT (stop accepting, let the
requests already being served finish for up to --graceful-timeout seconds, then exit).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from waitress.server import create_server

log = logging.getLogger("gitgoods.serve")

# The defaults the services run with; docs/serving.md explains each.
THREADS = 16  # app threads: gunicorn's 2 workers x 16 threads ran up to 32 requests at once, but
# only on I/O waits (DynamoDB), and one process' threads share the GIL: 16 keeps up (see the doc)
CONNECTION_LIMIT = 2000  # open connections before waitress stops accepting (slow ones count too)
CHANNEL_TIMEOUT = 30  # seconds a connection may stay silent (no byte in or out) before it is closed
MAX_REQUEST_BODY = 1024 * 1024  # waitress answers 413 itself above this; the apps refuse > 64/16 KiB
GRACEFUL_TIMEOUT = 5.0


def load_app(spec: str) -> Callable[..., Any]:
    """`module:attr` or `module:factory()` (gunicorn's syntax, without arguments in the call)."""
    module_name, _, expr = spec.partition(":")
    if not module_name or not expr:
        raise SystemExit(f"give the app as module:name or module:factory(), not {spec!r}")
    call = expr.endswith("()")
    name = expr[:-2] if call else expr
    obj: Any = importlib.import_module(module_name)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj() if call else obj


class AccessLog:
    """Writes a combined-log-format line per request to stdout, as gunicorn's `--access-logfile -`."""

    def __init__(self, app: Callable[..., Any], stream: Any = None) -> None:
        self.app = app
        self.stream = stream

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        seen: dict[str, str] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        body = self.app(environ, capture)
        return _Logged(body, lambda size: self._write(environ, seen.get("status", "-"), size, started))

    def _write(self, environ: dict[str, Any], status: str, size: int, started: float) -> None:
        uri = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            uri += "?" + environ["QUERY_STRING"]
        line = '{} - - [{}] "{} {} {}" {} {} "{}" "{}" {:.3f}s\n'.format(
            environ.get("REMOTE_ADDR", "-"),
            datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S %z"),
            environ.get("REQUEST_METHOD", "-"),
            uri,
            environ.get("SERVER_PROTOCOL", "-"),
            status,
            size or "-",
            environ.get("HTTP_REFERER", "-"),
            environ.get("HTTP_USER_AGENT", "-"),
            time.monotonic() - started,
        )
        stream = self.stream or sys.stdout
        try:
            stream.write(line)
            stream.flush()
        except (OSError, ValueError):  # a closed stdout must not fail the request
            pass


class _Logged:
    """The app's response iterable, counted and logged once it is closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body = body
        self.done = done
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.size)


def _busy(server: Any) -> bool:
    """Whether any connection is being served or still has an answer to send."""
    for channel in list(server._map.values()):
        if getattr(channel, "requests", None) or getattr(channel, "total_outbufs_len", 0):
            return True
    return False


def serve(
    app: Callable[..., Any],
    host: str,
    port: int,
    *,
    sock: socket.socket | None = None,
    threads: int = THREADS,
    connection_limit: int = CONNECTION_LIMIT,
    channel_timeout: int = CHANNEL_TIMEOUT,
    max_request_body_size: int = MAX_REQUEST_BODY,
    graceful_timeout: float = GRACEFUL_TIMEOUT,
    ready: Callable[[Any], None] | None = None,
) -> None:
    where: dict[str, Any] = {"sockets": [sock]} if sock is not None else {"host": host, "port": port}
    server = create_server(
        app,
        **where,
        threads=threads,
        connection_limit=connection_limit,
        channel_timeout=channel_timeout,
        cleanup_interval=min(10, channel_timeout),
        max_request_body_size=max_request_body_size,
        asyncore_use_poll=True,  # select() cannot watch descriptors past 1024
        backlog=2048,
        ident="gitgoods",
        expose_tracebacks=False,
    )
    stop_at: list[float] = []

    def on_signal(signum: int, _frame: Any) -> None:
        if not stop_at:
            log.info("signal %d: no new connections; finishing requests for up to %.0fs", signum, graceful_timeout)
            stop_at.append(time.monotonic() + graceful_timeout)
            server.accepting = False
            server.del_channel()
            server.socket.close()
        else:  # a second signal: stop now
            stop_at[0] = 0.0

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("serving on http://%s:%d (waitress, %d threads)", host, port, threads)
    if ready is not None:
        ready(server)
    try:
        while not stop_at or (_busy(server) and time.monotonic() < stop_at[0]):
            server.asyncore.loop(timeout=0.5 if stop_at else 1.0, map=server._map, use_poll=True, count=1)
    finally:
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        for channel in list(server._map.values()):
            with contextlib.suppress(OSError):
                channel.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="module:factory() or module:name, e.g. 'storefront.catalog.app:create_app()'")
    parser.add_argument("--bind", default="127.0.0.1:8000", help="host:port")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--connection-limit", type=int, default=CONNECTION_LIMIT)
    parser.add_argument("--channel-timeout", type=int, default=CHANNEL_TIMEOUT)
    parser.add_argument("--max-request-body-size", type=int, default=MAX_REQUEST_BODY)
    parser.add_argument("--graceful-timeout", type=float, default=GRACEFUL_TIMEOUT)
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="N >= 1: N supervised processes serving the one socket (gitgoods/local/workers.py); "
        "0: serve in this process, unsupervised",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    host, _, port = args.bind.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    options: dict[str, Any] = {
        "threads": args.threads,
        "connection_limit": args.connection_limit,
        "channel_timeout": args.channel_timeout,
        "max_request_body_size": args.max_request_body_size,
        "graceful_timeout": args.graceful_timeout,
    }

    def app() -> Callable[..., Any]:
        loaded = load_app(args.app)
        return loaded if args.no_access_log else AccessLog(loaded)

    if args.workers < 1:
        serve(app(), host, int(port), **options)
        return
    from gitgoods.local.workers import Supervisor, listening_socket

    sock = listening_socket(host, int(port))
    log.info("serving on http://%s:%d with %d workers", host, int(port), args.workers)
    code = Supervisor(args.workers, lambda: serve(app(), host, int(port), sock=sock, **options),
                      args.graceful_timeout).run()
    sock.close()
    sys.exit(code)


if __name__ == "__main__":
    main()
