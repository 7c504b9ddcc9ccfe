"""The ``comments`` text of the series this package writes: plain provenance text, never JSON.

NWB readers give ``TimeSeries.comments`` meanings of their own: neo's ``NWBIO`` parses a JSON ``comments`` as
its block/segment hierarchy and fails (``KeyError: 'block'``) on any other JSON. So the provenance of a series
(its BRAND stream and key, the clock that stamps it, the graph's settings) is one line of text::

    BRAND stream 'cursorData', key 'X'; clock: sync; rate: 50.0; graph comments: bin_ms=10.

Every clock's values stay in the stream's ``<stream>_ts`` table; gaps of a recording in ``invalid_times``.
"""

from __future__ import annotations

from collections.abc import Mapping


def series_comments(stream: str, key: str, **details: object) -> str:
    """One line of provenance: ``BRAND stream '<stream>', key '<key>'; <detail>: <value>; ...``.

    Parameters
    ----------
    stream, key : str
        The BRAND stream and key the series holds.
    **details
        Further facts, in order; the name's underscores become spaces, a mapping is written ``a=1, b=2``.
        None and empty values are left out.
    """
    parts = [f"BRAND stream '{stream}', key '{key}'"]
    for name, value in details.items():
        if value is None or (isinstance(value, Mapping | list | tuple | str) and not value):
            continue
        if isinstance(value, Mapping):
            value = ", ".join(f"{field}={entry}" for field, entry in value.items())
        parts.append(f"{name.replace('_', ' ')}: {value}")
    return "; ".join(parts) + "."
