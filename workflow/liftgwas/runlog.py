"""Logging for workflow scripts: everything goes to the rule's log file (and stderr)."""

from __future__ import annotations

import atexit
import logging
import resource
import sys
import warnings

_USAGE_LOGGED = False


def log_to(path: str | None, level: int = logging.INFO, append: bool = False, copy_to: str | None = None) -> logging.Logger:
    """Send log records, Python warnings and an uncaught exception's traceback to
    ``path`` (the rule's log:) and to stderr. ``append`` keeps what the file holds (a resumed
    job: the killed attempt's log stays above the rerun's). ``copy_to``: a second file that
    gets the same records (e.g. one Snakemake does not delete before a rerun)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    for target in (path, copy_to):
        if target:
            handlers.append(logging.FileHandler(target, mode="a" if append else "w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    # Captum's note that it hooks the ReLU modules during attribution is expected
    warnings.filterwarnings("ignore", message="Setting forward, backward hooks", category=UserWarning)
    log = logging.getLogger("liftgwas")

    def log_failure(kind, value, tb):
        # the traceback goes into the rule's log file, where a user looks first
        log.error("job failed", exc_info=(kind, value, tb))

    sys.excepthook = log_failure
    global _USAGE_LOGGED
    if not _USAGE_LOGGED:  # once per process, however often log_to is called
        atexit.register(log_usage, log)
        _USAGE_LOGGED = True
    return log


def log_usage(log: logging.Logger) -> None:
    """The job's last log line: its CPU time and peak memory, read from the kernel at exit
    (interpreter start-up and imports included). Snakemake's ``benchmark:`` files sample a
    job every 0.5 s for 15 s and then every 30 s, so for a longer job they miss the CPU
    spent after the last sample; this line does not."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime
    log.info("job resources: CPU %.2f s (user %.2f + system %.2f, with child processes), peak RSS %.0f MB",
             user + system, user, system, max(peak_rss_kb(), children.ru_maxrss) / 1024)


def peak_rss_kb() -> int:
    """This process's peak RSS in KiB. Linux's ``ru_maxrss`` starts from the parent's RSS
    when the process was spawned (exec keeps the old address space's high-water mark), so
    a small job started by a big parent would report the parent's size; VmHWM, the current
    address space's own high-water mark, does not. ``ru_maxrss`` where /proc is missing."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
