"""Measurement helpers shared by the benchmarks (run them as scripts from this folder or the repository root)."""

from __future__ import annotations

import os
import resource
import sys
import time


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


def settle_memory(seconds: float) -> None:
    """Flush dirty pages, then wait ``seconds``, so every case starts with the machine's memory in the same state.

    On a virtual machine that reports free pages to its host (virtio-balloon free page reporting, as the reference
    machine does), memory freed less than a few seconds ago is reused cheaply, while memory the host has taken back
    costs a fault on the host per page when touched again: writing 960 MB into a file took 0.17-0.4 s of system
    time right after another 960 MB file was deleted, and 1.9 s eight seconds later (``dd``). A case that starts
    while the previous one's output is still hot would be measured on cheaper memory than the case before it.
    On a physical machine the wait changes nothing.
    """
    os.sync()
    time.sleep(seconds)
