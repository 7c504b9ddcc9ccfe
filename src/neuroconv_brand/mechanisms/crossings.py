"""``type_nwb: SpikeTimes``: the key that holds a stream's threshold crossings.

One rule, used by the spike-times interface, the sorting extractor, the spool and ``validate``: an exported key's
``nwb:`` block names it (``nwb: {crossings: <key>}``), and the named key must be a declared numeric key.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import GraphError
from ..graph.stream_specs import KeySpec, StreamSpec


def nwb_blocks(spec: StreamSpec) -> dict[str, dict | None]:
    """The ``nwb:`` block of every key of ``spec`` (None for a key without one), as ``validate`` reads them."""
    return {name: key.nwb for name, key in spec.keys.items()}


def named_crossings(blocks: Mapping[str, Mapping | None]) -> list[tuple[str, object]]:
    """``(key, name)`` for every key whose ``nwb:`` block names the crossings key, in declaration order.

    Parameters
    ----------
    blocks : mapping
        Key name -> its ``nwb:`` block (None, or anything but a mapping, for a key that is not exported).
    """
    return [
        (key, block["crossings"])
        for key, block in blocks.items()
        if isinstance(block, Mapping) and "crossings" in block
    ]


def crossings_key(spec: StreamSpec) -> KeySpec:
    """The key named by ``nwb: {crossings: <key>}`` in a ``SpikeTimes`` stream's definition.

    Raises
    ------
    GraphError
        When no key carries ``crossings`` or the named key is not declared.
    """
    named = [str(name) for _, name in named_crossings(nwb_blocks(spec))]
    if not named:
        raise GraphError(
            f"stream '{spec.name}' (SpikeTimes): no key's nwb block names the crossings key "
            "(nwb: {crossings: <key>}); add it to the node YAML."
        )
    name = named[0]
    if name not in spec.keys:
        raise GraphError(
            f"stream '{spec.name}': nwb crossings names key '{name}', which the definition does not declare "
            f"(declared: {', '.join(spec.keys)}); fix the node YAML."
        )
    key = spec.keys[name]
    if key.is_text:
        raise GraphError(
            f"stream '{spec.name}', key '{name}': crossings must be numeric, the definition says str."
        )
    return key
