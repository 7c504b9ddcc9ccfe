"""Process-wide settings read from environment variables (worker and thread counts)."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the platform tells it, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def count_from_environment(variable: str, default: int) -> int:
    """The whole number in ``$variable`` (at least 1), or ``default`` when it is unset or blank.

    Raises
    ------
    ValueError
        When the variable holds something else than a whole number, naming the variable.
    """
    configured = os.environ.get(variable, "").strip()
    if not configured:
        return default
    try:
        return max(1, int(configured))
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, not {configured!r}") from None
