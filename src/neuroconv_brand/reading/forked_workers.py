"""Reading side by side in forked worker processes: several streams, or the id ranges of one stream.

Parsing entries is CPU-bound Python, so reading in several processes uses every core. The workers are forked,
so they share the parent's open session (its file handle or client is used by one process at a time: each
worker reopens nothing and the parent reads nothing meanwhile). Forking is refused where it is unsafe: where the
platform has no ``fork``, and in a process that already runs threads (``fork`` copies only the calling thread,
so a lock held by another one would never be released in the child).

Ctrl-C is left to the parent (the workers ignore SIGINT): its ``KeyboardInterrupt`` ends the pool, which
terminates the workers; SIGTERM kills a worker at once. Whatever a worker was writing is in the session's spool
folder, which the parent removes.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..interruption import check_interrupted
from ..sources.session import BrandSession

Job = TypeVar("Job")

#: The session and function of the pool being run (set in the parent just before forking).
_WORK: tuple[BrandSession, Callable[[BrandSession, Any], Any]] | None = None


def can_fork() -> bool:
    """Whether worker processes can be forked safely here (``fork`` exists and no other thread runs)."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def forked_map(
    session: BrandSession,
    function: Callable[[BrandSession, Job], Any],
    jobs: Sequence[Job],
    workers: int,
) -> list | None:
    """``function(session, job)`` for every job, in up to ``workers`` forked processes; the results in job order.

    Returns None, having run nothing, where fewer than two workers or jobs are asked for or forking is unsafe
    (see :func:`can_fork`); the caller then does the work in this process. Jobs and results travel pickled. A
    job that raises gives None: the caller does it again in this process, which raises the error with its own
    type and message. Once the workers run, this process does the work queued in the session's
    ``context.while_reading`` (after forking, so the workers do not inherit it).
    """
    workers = min(workers, len(jobs))
    if workers < 2 or not can_fork():
        return None
    # An interrupt this process dropped (see interruption) must stop it now: a forked worker would inherit it.
    check_interrupted()
    global _WORK
    _WORK = (session, function)
    try:
        results: list = [None] * len(jobs)
        with multiprocessing.get_context("fork").Pool(workers, initializer=_stop_with_parent) as pool:
            finished = pool.imap_unordered(_run_job, enumerate(jobs))
            queued = session.context.while_reading
            while queued:
                queued.pop(0)()
            for number, result in finished:
                results[number] = result
        return results
    finally:
        _WORK = None


def _stop_with_parent() -> None:
    """In a forked worker: leave Ctrl-C to the parent, which stops the pool; die at once on its SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_job(numbered: tuple[int, Any]) -> tuple[int, Any]:
    number, job = numbered
    session, function = _WORK
    try:
        return number, function(session, job)
    except BaseException:  # a worker that died would lose its job, and the pool would wait forever
        return number, None
