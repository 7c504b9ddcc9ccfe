"""Pause Python's cyclic garbage collector around bulk reads.

A batch of stream entries allocates a few objects per entry (redis-py's reply, dicts, JSON values), none of
them in reference cycles. Each allocation burst triggers full collections that walk the whole heap (NeuroConv,
pynwb, SpikeInterface are large), which measured as more than half of the client CPU of a read. Reference
counting still frees everything; only the cycle detector waits until the batch is done.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic garbage collector for the block (re-enabled only if it was enabled)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
