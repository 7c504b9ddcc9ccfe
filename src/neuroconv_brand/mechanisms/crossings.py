"""``type_nwb: SpikeTimes``: the key that holds a stream's threshold crossings, and when each crossing happened.

Used by the spike-times interface, the sorting extractor, the electrode map, the spool and ``validate``:

- The key: an exported key's ``nwb:`` block names it (``nwb: {crossings: <key>}``), and the named key must be a
  declared numeric key (:func:`crossings_key`).
- Where: every non-zero value of a block of entries (:func:`find_crossings`).
- The time: a non-zero value at sample ``k`` of an entry (``samp_per_stream > 1``) is a crossing at
  ``entry time + k / (entry rate * samp)`` (:func:`crossing_times`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

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


def crossings_key(spec: StreamSpec, key: str | None = None, only_numeric_fallback: bool = False) -> KeySpec:
    """The key that holds a ``SpikeTimes`` stream's threshold crossings.

    The rule: an explicit ``key`` if given; else the key named by ``nwb: {crossings: <key>}`` in the stream's
    definition (the first key whose ``nwb:`` block names one); else, with ``only_numeric_fallback`` (the sorting
    extractor, which reads streams whose definition may lack that block), the stream's only exported numeric key.
    The chosen key must be declared and numeric.

    Parameters
    ----------
    spec : StreamSpec
        The stream.
    key : str, optional
        The crossings key named by the caller (e.g. the sorting extractor's ``key=``).
    only_numeric_fallback : bool
        When no key's ``nwb:`` block names the crossings key, fall back to the only exported numeric key.

    Raises
    ------
    GraphError
        When no key is named (and the fallback does not apply), or the key is not declared or holds text.
    """
    named = [str(name) for _, name in named_crossings(nwb_blocks(spec))]
    if key is not None:
        if key not in spec.keys:
            raise GraphError(
                f"stream '{spec.name}' declares no key '{key}' (declared: {', '.join(spec.keys)}); pass key= with "
                "the field that holds the crossings."
            )
        name = key
    elif named:
        name = named[0]
        if name not in spec.keys:
            raise GraphError(
                f"stream '{spec.name}': nwb crossings names key '{name}', which the definition does not declare "
                f"(declared: {', '.join(spec.keys)}); fix the node YAML."
            )
    elif only_numeric_fallback:
        return _only_numeric_key(spec)
    else:
        raise GraphError(
            f"stream '{spec.name}' (SpikeTimes): no key's nwb block names the crossings key "
            "(nwb: {crossings: <key>}); add it to the node YAML."
        )
    crossings = spec.keys[name]
    if crossings.is_text:
        raise GraphError(
            f"stream '{spec.name}', key '{name}': crossings must be numeric, the definition says str."
        )
    return crossings


def _only_numeric_key(spec: StreamSpec) -> KeySpec:
    numeric = list(spec.exported_numeric_keys.values())
    if len(numeric) != 1:
        exported = ", ".join(key.name for key in numeric) or "none"
        raise GraphError(
            f"stream '{spec.name}': no key's nwb block names the crossings key (nwb: {{crossings: <key>}}) and the "
            f"stream exports {len(numeric)} numeric keys ({exported}), not one; pass key= with the field that "
            f"holds the crossings (declared: {', '.join(spec.keys)})."
        )
    return numeric[0]


def crossing_times(
    entry_seconds: np.ndarray, entries: np.ndarray, samples: np.ndarray, sample_rate: float | None
) -> np.ndarray:
    """Session times of the crossings at ``(entries, samples)``: sample ``k`` of an entry is ``k / sample_rate`` after it.

    Parameters
    ----------
    entry_seconds : np.ndarray
        The time of every entry.
    entries, samples : np.ndarray
        The entry and the sample within it of each crossing.
    sample_rate : float or None
        Crossing samples per second (entry rate x samples per entry); None when the entry rate is unknown
        (fewer than 2 entries and no graph rate): every sample is then placed at its entry's time.
    """
    step = 1.0 / sample_rate if sample_rate else 0.0
    return entry_seconds[entries] + samples * step


def find_crossings(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry, sample and channel (int64) of every non-zero value of an ``(entries, samp, chan)`` block, in time order.

    Equal to ``np.nonzero(block)``, about twice as fast on crossings as rigs record them (a few in a hundred values
    non-zero): see :func:`nonzero_positions`.
    """
    _, samp, n_channels = block.shape
    positions = nonzero_positions(block)
    rows, channels = np.divmod(positions, n_channels)
    entries, samples = np.divmod(rows, samp)
    return entries, samples, channels


def nonzero_positions(values: np.ndarray) -> np.ndarray:
    """Flat positions of the non-zero values of ``values``, as ``np.flatnonzero``, faster where they are sparse.

    The values are first scanned eight bytes at a time, as 64-bit words, and only the words that are not all zero
    bytes are looked into value by value. A word of zero bytes holds only zeros; a value whose bytes are not all
    zero may still be zero (``-0.0``), which the look into its word leaves out, as ``np.nonzero`` does.
    """
    flat = np.ascontiguousarray(values).reshape(-1)
    itemsize = flat.dtype.itemsize
    if itemsize == 0 or 8 % itemsize or flat.dtype.kind not in "biuf":
        return np.flatnonzero(flat)
    per_word = 8 // itemsize
    n_words = flat.size // per_word
    whole = flat[: n_words * per_word]
    candidates = np.flatnonzero(whole.view(np.uint64))
    word, within = np.nonzero(whole.reshape(n_words, per_word)[candidates])
    found = candidates[word] * per_word + within
    rest = np.flatnonzero(flat[n_words * per_word :])
    return np.concatenate([found, rest + n_words * per_word]) if len(rest) else found
