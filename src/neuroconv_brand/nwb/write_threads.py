"""How many threads compress gzip chunks.

Kept apart from :mod:`.gzip_chunks`, which imports hdmf, so the command line sets it without loading the NWB
libraries.
"""

from __future__ import annotations

import os

#: Environment variable that sets the threads compressing gzip chunks (``--write-threads``).
WRITE_THREADS_VARIABLE = "NEUROCONV_BRAND_WRITE_THREADS"


def write_threads() -> int:
    """Threads compressing gzip chunks: ``$NEUROCONV_BRAND_WRITE_THREADS``, else the usable CPUs."""
    configured = os.environ.get(WRITE_THREADS_VARIABLE, "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise ValueError(f"{WRITE_THREADS_VARIABLE} must be a whole number, not {configured!r}") from None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
