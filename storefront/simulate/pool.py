"""Run a simulator's units of work (orders, visits) on a pool of threads behind one progress bar."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def run_all(items: Sequence[T], run_one: Callable[[T], None], *, workers: int, stop: threading.Event,
            desc: str, unit: str, progress: bool = True,
            on_done: Callable[[T, Future[None]], None] = lambda item, future: None) -> None:
    """`run_one` for every item on `workers` threads; `on_done(item, future)` in this thread as each
    finishes (in the order they finish), then the bar moves on. Ctrl-C sets `stop`, cancels what
    has not started and raises."""
    # `disable=None`: a bar on a terminal, nothing in a log file.
    bar = tqdm(total=len(items), unit=unit, desc=desc, disable=None if progress else True, smoothing=0.05,
               file=sys.stderr)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=unit) as pool:
        futures = {pool.submit(run_one, item): item for item in items}
        try:
            for future in as_completed(futures):
                on_done(futures[future], future)
                bar.update(1)
        except KeyboardInterrupt:
            stop.set()
            for future in futures:
                future.cancel()
            raise
        finally:
            bar.close()
