"""Progress for long work: a tqdm bar in a terminal, a few plain lines anywhere else.

Under papermill, in a notebook's saved output or in a log file, a redrawn bar becomes hundreds of stale
lines; there the same counter prints one line at each quarter of the work instead.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm  # not tqdm.auto: notebooks get plain lines (progress.py), and no IProgress warning


def terminal() -> bool:
    """Whether progress bars have a terminal to redraw in (stderr is a tty)."""
    return sys.stderr.isatty()


class Lines:
    """A tqdm-like counter (``update``, ``set_postfix``, ``close``) that prints ``desc: n/total unit (rate)``
    when it passes 25, 50, 75 and 100 % of ``total``."""

    def __init__(self, total: int, desc: str, unit: str):
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.start, self.shown, self.postfix = time.perf_counter(), 0, ""

    def update(self, n: int = 1) -> None:
        self.n += n
        quarter = 4 * self.n // max(self.total, 1)
        if quarter > self.shown:
            self.shown = quarter
            rate = self.n / max(time.perf_counter() - self.start, 1e-9)
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}s ({rate:.1f} {self.unit}s/s){self.postfix}",
                  flush=True)

    def set_postfix(self, **values) -> None:
        self.postfix = "".join(f", {k} {v}" for k, v in values.items())

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, unit: str, enabled: bool = True):
    """A tqdm bar in a terminal, :class:`Lines` elsewhere, or a silent tqdm when not ``enabled``."""
    if enabled and not terminal():
        return Lines(total, desc, unit)
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, smoothing=0.1)
