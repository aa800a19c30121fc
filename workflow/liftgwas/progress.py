"""Progress lines inside long loops (a training epoch, a DeepLIFT pass), at a bounded rate.

At UK Biobank size one training epoch is about half a CPU-hour, so a job that logs once per
epoch is silent for that long. `Progress` writes one log line at most every ``every_s``
seconds (and at the end), tqdm-style but as plain log records, so ``tail -f`` on the job's
log shows it and the log stays small::

    training epoch 3: 12,800 / 103,293 samples (12.4%), 850 samples/s, ETA 0:01:46

The interval comes from the environment variable ``LIFTGWAS_PROGRESS_SECONDS`` (default
30), not from the config: it changes no result, and a config value reaching the rules as a
param would make Snakemake rerun every job when it is edited.
"""

from __future__ import annotations

import datetime
import logging
import os
import time
from typing import Callable

DEFAULT_SECONDS = 30.0
ENV = "LIFTGWAS_PROGRESS_SECONDS"


def interval_seconds() -> float:
    value = os.environ.get(ENV)
    if value is None or value == "":
        return DEFAULT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"environment variable {ENV}: {value!r} is not a number of seconds") from None
    if seconds < 0:
        raise ValueError(f"environment variable {ENV}: must be >= 0, got {value!r}")
    return seconds


class Progress:
    """``update(k)`` after each step of ``k`` items; logs ``what: done / total …`` when
    ``every_s`` seconds have passed since the last line, and once when ``total`` is reached."""

    def __init__(self, what: str, total: int, *, unit: str = "samples", every_s: float | None = None,
                 logger: logging.Logger | None = None, clock: Callable[[], float] = time.monotonic):
        self.what, self.total, self.unit = what, int(total), unit
        self.every_s = interval_seconds() if every_s is None else float(every_s)
        self.log = logger or logging.getLogger("liftgwas.progress")
        self.clock = clock
        self.start = self.last = clock()
        self.done = 0
        self.lines = 0

    def update(self, n: int) -> None:
        self.done += int(n)
        now = self.clock()
        if self.done >= self.total or now - self.last >= self.every_s:
            self.last = now
            self.lines += 1
            self.log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        share = 100.0 * self.done / self.total if self.total else 100.0
        left = max(self.total - self.done, 0)
        eta = _clock_time(left / rate) if rate > 0 else "?"
        return (f"{self.what}: {self.done:,} / {self.total:,} {self.unit} ({share:.1f}%), "
                f"{rate:,.0f} {self.unit}/s, ETA {eta}")


def _clock_time(seconds: float) -> str:
    return str(datetime.timedelta(seconds=round(seconds)))
