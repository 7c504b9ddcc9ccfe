"""``type_nwb: Trial``: what a Trial stream's ``nwb:`` block says about its trials.

One rule, used by the trials interfaces and by ``validate``: exactly one exported key carries the trial settings,
``trial_state`` names the key holding the task state (default ``state``, the key exportNWB hard-codes), and the
start, end and other indicators are state values with one role each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import GraphError
from ..graph.stream_specs import KeySpec, StreamSpec
from .crossings import nwb_blocks

#: The entries of a key's ``nwb:`` block that define trials; the key that has any of them carries the settings.
TRIAL_SETTINGS = ("trial_state", "start_trial_indicators", "end_trial_indicators", "other_trial_indicators")
#: The state key when ``trial_state`` is not given (exportNWB reads the key ``state``).
DEFAULT_STATE_KEY = "state"
#: Columns of the trials table whose names an indicator may not take.
RESERVED_COLUMNS = frozenset(
    {"id", "start_time", "stop_time", "tags", "timeseries", "start_indicator", "stop_indicator"}
)


def trial_settings_carriers(blocks: Mapping[str, Mapping | None]) -> list[str]:
    """The keys whose ``nwb:`` block holds trial settings (a Trial stream needs exactly one).

    Parameters
    ----------
    blocks : mapping
        Key name -> its ``nwb:`` block (None, or anything but a mapping, for a key that is not exported).
    """
    return [
        key
        for key, block in blocks.items()
        if isinstance(block, Mapping) and any(setting in block for setting in TRIAL_SETTINGS)
    ]


def state_key_name(block: Mapping) -> str:
    """The state key that the carrier's ``nwb:`` block names (``trial_state``, default ``state``)."""
    return str(block.get("trial_state", DEFAULT_STATE_KEY))


@dataclass(frozen=True)
class TrialDefinition:
    """What the ``nwb:`` block of a Trial stream's key says about its trials.

    Attributes
    ----------
    state_key : str
        The key holding the state of each entry (``trial_state``; default ``state``, the key exportNWB reads).
    start_indicators, end_indicators : tuple
        State values that start and that end a trial (``start_trial_indicators``, ``end_trial_indicators``).
    other_indicators : tuple
        State values whose first occurrence inside each trial becomes a time column (``other_trial_indicators``).
    descriptions : dict
        ``<indicator>_description`` of each other indicator (a default where the block has none).
    """

    state_key: str
    start_indicators: tuple
    end_indicators: tuple
    other_indicators: tuple = ()
    descriptions: dict[str, str] | None = None

    def column_name(self, indicator) -> str:
        """The trials column of an other indicator: the indicator itself, as text."""
        return str(indicator)


def _indicator_list(value, name: str, where: str, key: KeySpec, required: bool) -> tuple:
    if value is None:
        if required:
            role = name.split("_", 1)[0]
            raise GraphError(
                f"{where}: the nwb block has no '{name}'; list the state values that {role} a trial"
            )
        return ()
    values = list(value) if isinstance(value, list | tuple) else [value]
    if required and not values:
        raise GraphError(f"{where}: '{name}' is empty; list at least one state value")
    if key.is_text:
        return tuple(str(v) for v in values)
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise GraphError(
            f"{where}: '{name}' is {values!r}, but the state key '{key.name}' holds numbers ({key.dtype}); "
            "list numeric state values"
        ) from None


def read_trial_definition(spec: StreamSpec) -> TrialDefinition:
    """Read the trial settings from the ``nwb:`` block of a Trial stream's key.

    Raises
    ------
    GraphError
        When no key (or more than one) carries trial settings, ``trial_state`` names an undeclared or
        multi-valued key, indicators are missing, or one state value plays two roles.
    """
    where = f"stream '{spec.name}' (type_nwb Trial)"
    carriers = [spec.keys[name] for name in trial_settings_carriers(nwb_blocks(spec))]
    if not carriers:
        raise GraphError(
            f"{where}: no key's nwb block defines trial_state / start_trial_indicators / end_trial_indicators; "
            "add them to the node YAML (e.g. nwb: {trial_state: state, start_trial_indicators: [start_time], "
            "end_trial_indicators: [end_time]})"
        )
    if len(carriers) > 1:
        raise GraphError(
            f"{where}: keys {[key.name for key in carriers]} all carry trial settings; keep them on one key"
        )
    nwb = carriers[0].nwb
    state_key = state_key_name(nwb)
    where = f"{where}, key '{carriers[0].name}'"
    if state_key not in spec.keys:
        raise GraphError(
            f"{where}: trial_state names key '{state_key}', which the stream does not declare "
            f"(declared: {sorted(spec.keys)}); fix trial_state in the node YAML"
        )
    key = spec.keys[state_key]
    if key.chan != 1 or key.samp != 1:
        raise GraphError(
            f"{where}: the state key '{state_key}' has {key.samp} x {key.chan} values per entry; a state key "
            "holds one state per entry (chan_per_stream and samp_per_stream 1)"
        )
    starts = _indicator_list(nwb.get("start_trial_indicators"), "start_trial_indicators", where, key, True)
    ends = _indicator_list(nwb.get("end_trial_indicators"), "end_trial_indicators", where, key, True)
    others = _indicator_list(nwb.get("other_trial_indicators"), "other_trial_indicators", where, key, False)
    roles = {"start": set(starts), "end": set(ends), "other": set(others)}
    for first, second in (("start", "end"), ("start", "other"), ("end", "other")):
        shared = roles[first] & roles[second]
        if shared:
            raise GraphError(
                f"{where}: state value(s) {sorted(map(str, shared))} are both {first} and {second} indicators"
            )
    definition = TrialDefinition(state_key, starts, ends, others)
    descriptions = {}
    for indicator in others:
        column = definition.column_name(indicator)
        if column in RESERVED_COLUMNS:
            raise GraphError(
                f"{where}: other_trial_indicators entry '{column}' would replace the trials column '{column}'"
            )
        text = nwb.get(f"{column}_description")
        descriptions[column] = (
            str(text)
            if text
            else f"Time of the first '{column}' state between the trial's start and end entries."
        )
    return TrialDefinition(state_key, starts, ends, others, descriptions)
