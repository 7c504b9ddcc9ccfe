"""Ctrl-C (SIGINT) and SIGTERM that stop a conversion in every phase, even where Python would drop them.

Python raises ``KeyboardInterrupt`` in whatever Python code runs next after the signal. While h5py writes a
dataset, that is almost always a weakref callback run as a temporary h5py object is freed (h5py keeps its open
ids in a ``WeakValueDictionary``); an exception raised in such a callback cannot propagate, so Python prints
``Exception ignored in ... WeakValueDictionary ... KeyboardInterrupt`` and the conversion runs on. The handler
installed by :func:`stop_on_signals` therefore also records the signal, and the conversion's loops (batches
read, spool files written, buffers handed to pynwb, the final rename of the output) call
:func:`check_interrupted`, which raises ``KeyboardInterrupt`` again, so a dropped interrupt resurfaces within
one batch or buffer. SIGTERM is handled like SIGINT, so ``kill`` also cleans up. Cleanup that must finish
(removing a partial output) runs under :func:`deferred_interrupts`. The "Exception ignored" report of a
dropped interrupt is silenced (:func:`_quiet_dropped_interrupts`): the interrupt is not lost any more.

Nothing here is active unless a program installs the handlers (the ``neuroconv-brand`` command and its worker
processes do); :func:`check_interrupted` is then a no-op.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

#: The signals that stop a conversion.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_received: int | None = None
_deferring = 0


def _on_signal(signum: int, frame) -> None:
    global _received
    _received = signum
    if not _deferring:
        raise KeyboardInterrupt


def _quiet_dropped_interrupts(report_others):
    """An unraisable-exception hook that drops our ``KeyboardInterrupt`` quietly and reports anything else."""

    def hook(unraisable) -> None:
        if not (isinstance(unraisable.exc_value, KeyboardInterrupt) and _received is not None):
            report_others(unraisable)

    return hook


def install_stop_handlers() -> None:
    """Make SIGINT and SIGTERM raise ``KeyboardInterrupt`` and be remembered (for this process's lifetime).

    For worker processes; the main program uses :func:`stop_on_signals`. Only the main thread can install them.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    sys.unraisablehook = _quiet_dropped_interrupts(sys.unraisablehook)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise ``KeyboardInterrupt`` and :func:`check_interrupted` re-raises it.

    Outside the main thread (where handlers cannot be installed) the block runs unchanged.
    """
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    previous_hook = sys.unraisablehook
    install_stop_handlers()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        _received = None


def interrupted() -> bool:
    """Whether SIGINT or SIGTERM arrived since the handlers were installed."""
    return _received is not None


def check_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT or SIGTERM arrived (again, if it was dropped on the way)."""
    if _received is not None and not _deferring:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Let the block (cleanup) finish: a signal that arrives meanwhile raises only at the next check."""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
