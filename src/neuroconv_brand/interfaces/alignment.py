"""Time alignment across a converter's interfaces: who follows whom, shifting everything, the earliest time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from neuroconv import BaseDataInterface

from ..errors import GraphError
from .base import BrandStreamInterface
from .stream_timestamps import BrandStreamTimestampsInterface
from .trial_info import BrandTrialInfoInterface
from .trials import BrandTrialsInterface


def link_followers(interfaces: Mapping[str, BaseDataInterface]) -> None:
    """Make each clock table follow its stream's data interface and each TrialInfo stream its Trial stream.

    Aligning a data interface then moves its ``<stream>_ts`` table's ``session_time``; aligning the Trial
    stream moves the TrialInfo entries with it, so their values stay with their trials.
    """
    data = {
        obj.spec.name: obj
        for obj in interfaces.values()
        if isinstance(obj, BrandStreamInterface) and not isinstance(obj, BrandStreamTimestampsInterface)
    }
    trials = {name: obj for name, obj in data.items() if isinstance(obj, BrandTrialsInterface)}
    for obj in interfaces.values():
        if isinstance(obj, BrandStreamTimestampsInterface) and obj.spec.name in data:
            obj.follow(data[obj.spec.name])
        elif isinstance(obj, BrandTrialInfoInterface):
            try:
                trial_stream = obj.trial_stream_name
            except GraphError:
                continue  # no single Trial stream: TrialInfo reports it when it writes
            if trial_stream in trials:
                obj.follow_trials(trials[trial_stream])


def shift_interfaces(interfaces: Mapping[str, BaseDataInterface], seconds: float) -> None:
    """Move every time of every interface by ``seconds`` (followers move with the interface they follow)."""
    for obj in interfaces.values():
        if isinstance(obj, BrandStreamTimestampsInterface):
            obj.shift_session_times(seconds)
        if getattr(obj, "alignment_leader", None) is not None:
            continue
        if hasattr(obj, "set_aligned_starting_time"):
            obj.set_aligned_starting_time(seconds)


def earliest_time(interfaces: Mapping[str, BaseDataInterface]) -> float | None:
    """The earliest time (s since ``session_start_time``) the BRAND interfaces write; None when they write none."""
    times = [
        time
        for obj in interfaces.values()
        if isinstance(obj, BrandStreamInterface)
        for time in [obj.earliest_time()]
        if time is not None
    ]
    return min(times) if times else None


def start_shift_for(earliest: float | None) -> float:
    """The shift (s, whole microseconds, 0 when none is needed) that makes ``earliest`` non-negative.

    Whole microseconds so the moved ``session_start_time`` is exact; rounding up keeps rounding errors of the
    shifted times from dipping below zero.
    """
    if earliest is None or earliest >= 0:
        return 0.0
    return math.ceil(-earliest * 1e6) / 1e6


def earlier_start(start: datetime | str, seconds: float) -> datetime:
    """``start`` (a datetime or ISO 8601 text, as YAML metadata gives it) moved ``seconds`` earlier."""
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    return start - timedelta(seconds=seconds)
