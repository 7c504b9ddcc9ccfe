"""Carry one stream's time alignment over to times measured on the same clock (e.g. TrialInfo entries)."""

from __future__ import annotations

import numpy as np


def follow_alignment(times: np.ndarray, original: np.ndarray, aligned: np.ndarray) -> np.ndarray:
    """Map ``times`` the way an alignment mapped ``original`` onto ``aligned``.

    Between the original times the mapping is piecewise linear (exact for a shift and for NeuroConv's
    ``align_by_interpolation``); before the first and after the last original time it keeps the offset of that
    end. An entry that lay between two entries of the aligned stream still does after the mapping.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(original) == 0:
        return times.copy()
    order = np.argsort(original, kind="stable")
    xp, fp = np.asarray(original, dtype=np.float64)[order], np.asarray(aligned, dtype=np.float64)[order]
    mapped = np.interp(times, xp, fp)
    before, after = times < xp[0], times > xp[-1]
    mapped[before] = times[before] + (fp[0] - xp[0])
    mapped[after] = times[after] + (fp[-1] - xp[-1])
    return mapped
