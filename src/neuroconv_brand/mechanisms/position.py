"""``type_nwb: Position``: which entries of a key's ``nwb:`` block are SpatialSeries settings.

Read by the position interface and checked by ``validate``.
"""

from __future__ import annotations

from hdmf.utils import get_docval
from pynwb.behavior import SpatialSeries

#: SpatialSeries arguments that the interface sets itself; an ``nwb:`` block cannot pass them.
_SET_BY_INTERFACE = frozenset(
    {"name", "data", "timestamps", "starting_time", "rate", "control", "control_description", "comments"}
)
#: Python types of the settings -> their JSON Schema types.
JSON_TYPES = {str: "string", float: "number", int: "integer", bool: "boolean"}
#: The SpatialSeries settings an ``nwb:`` block may hold (read from pynwb's constructor) -> their Python type.
SPATIAL_SERIES_SETTINGS: dict[str, type] = {
    arg["name"]: arg["type"]
    for arg in get_docval(SpatialSeries.__init__)
    if arg["name"] not in _SET_BY_INTERFACE and arg["type"] in JSON_TYPES
}


def split_nwb_block(nwb: dict) -> tuple[dict, dict, object]:
    """Split a key's ``nwb:`` block into SpatialSeries settings, extra entries, and user comments."""
    settings = {name: value for name, value in nwb.items() if name in SPATIAL_SERIES_SETTINGS}
    extra = {
        name: value
        for name, value in nwb.items()
        if name not in SPATIAL_SERIES_SETTINGS and name != "comments"
    }
    return settings, extra, nwb.get("comments")
