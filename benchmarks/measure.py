"""Measurement helpers shared by the benchmarks (run them as scripts from this folder or the repository root)."""

from __future__ import annotations

import resource
import sys


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB.

    On Linux ``getrusage(RUSAGE_SELF).ru_maxrss`` keeps the peak of the process that forked us across ``exec``
    (e.g. a parent holding a generated session), so the kernel's per-address-space high-water mark ``VmHWM`` is
    read instead; elsewhere ``ru_maxrss`` is the best there is.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, kB elsewhere
