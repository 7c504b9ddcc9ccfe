"""How many threads prepare (gather, compress) the chunks written directly into HDF5 files.

Kept apart from :mod:`.direct_chunks`, which imports hdmf, so the command line sets it without loading the NWB
libraries.
"""

from __future__ import annotations

from ..environment import count_from_environment, usable_cpus

#: Chunks in flight per thread (bounds memory: each holds one chunk-sized buffer and its encoded bytes).
CHUNKS_IN_FLIGHT_PER_THREAD = 2
#: Environment variable that sets the threads preparing chunks (``--write-threads``).
WRITE_THREADS_VARIABLE = "NEUROCONV_BRAND_WRITE_THREADS"


def write_threads() -> int:
    """Threads preparing chunks: ``$NEUROCONV_BRAND_WRITE_THREADS``, else the usable CPUs."""
    return count_from_environment(WRITE_THREADS_VARIABLE, usable_cpus())
