"""`make up`'s phases: each timed, its output in the log folder, one progress bar on the terminal."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm


class Phases:
    """Runs the phases of `make up` in turn. While a phase runs, what it prints goes to `log`
    (progress bars write to the terminal's stderr, so they stay); `seconds` keeps how long
    each phase took, in the order they ran."""

    def __init__(self, log: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.clock = clock
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = self.clock()
        try:
            with contextlib.redirect_stdout(self.log):
                yield
        finally:
            self.log.flush()
            self.seconds[name] = round(self.clock() - started, 1)

    def steps(self, name: str, steps: list[tuple[str, Callable[[], Any]]]) -> list[Any]:
        """A phase made of steps: one bar, a step a tick. Returns each step's result."""
        results = []
        # `disable=None`: a bar on a terminal, nothing in a log file.
        with self.timed(name), tqdm(total=len(steps), desc=name, unit="step", disable=None) as bar:
            for label, step in steps:
                bar.set_postfix_str(label)
                results.append(step())
                bar.update(1)
            bar.set_postfix_str("")
        return results

    def total(self) -> float:
        return round(sum(self.seconds.values()), 1)

    def write(self, path: Path) -> None:
        """The timings as JSON: {"phases": {phase: seconds}, "total_s": seconds}."""
        path.write_text(json.dumps({"phases": self.seconds, "total_s": self.total()}, indent=2) + "\n")

    def table(self) -> list[str]:
        return [f"  {name:<40} {seconds:>7.1f} s" for name, seconds in self.seconds.items()]
