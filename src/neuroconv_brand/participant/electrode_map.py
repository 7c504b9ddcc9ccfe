"""Which electrode rows the channels of a threshold-crossings (``SpikeTimes``) stream belong to.

exportNWB used the channel index as the electrode row, which is wrong as soon as several crossing streams
cover different channel ranges (``thresh_cross_1``/``thresh_cross_2``, one per array or NSP; see
``docs/differences-from-exportnwb.md``). The electrodes table holds every implant's electrodes in implant order (participant file), and a
stream's channel ``c`` is electrode row ``first + c``. ``first`` is decided by the first rule that applies:

1. ``electrodes``: an explicit row per channel, given by the user.
2. ``electrode_offset``: an explicit first row, given by the user.
3. The writing node's channel range: the node's ``neural_ch_range: [start, stop]`` parameter (thresholdExtraction,
   nsp_all), when ``stop - start`` is the stream's channel count and the node's input stream
   (``input_stream``/``input_name``) is known to hold every electrode: its channel count (the input stream's
   definition, or ``chan_per_stream`` of the acquisition node listing it in ``stream_names``) equals the number
   of electrodes. An input that is the k-th stream of a multi-stream acquisition node (``stream_names`` +
   ``chan_per_stream`` lists) starts at the channels of the streams before it. Then ``first = input start +
   start``.
4. Stream order: the graph's crossing streams (enabled ``SpikeTimes`` streams, in the graph's order, plus this
   one) tile the electrodes in that order, ``first`` = channels of the streams before it, when their channel
   counts add up to the number of electrodes (a single stream must cover all of them).

Otherwise the mapping cannot be determined and :class:`~neuroconv_brand.errors.GraphError` says so, suggesting
``electrode_offset`` or ``electrodes``. Rows beyond the electrodes table are an error too. When the number of
electrodes is unknown (no participant file converted), rules 3 and 4 use the graph alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GraphError
from ..graph.stream_specs import StreamSpec
from ..graph.supergraph import Graph
from ..mechanisms.crossings import crossings_key


@dataclass(frozen=True)
class ChannelElectrodes:
    """Electrode rows of a stream's channels and the rule that chose them."""

    rows: np.ndarray
    rule: str


def crossing_streams(graph: Graph, include: str | None = None) -> list[tuple[str, int]]:
    """``(stream, channels)`` of the graph's enabled SpikeTimes streams (and ``include``), in graph order."""
    streams = []
    for name, spec in graph.streams.items():
        if spec.type_nwb != "SpikeTimes" or not (spec.enabled or name == include):
            continue
        try:
            streams.append((name, crossings_key(spec).chan))
        except GraphError:
            continue
    return streams


def map_channels_to_electrodes(
    graph: Graph,
    stream: str,
    n_electrodes: int | None,
    electrode_offset: int | None = None,
    electrodes: Sequence[int] | None = None,
) -> ChannelElectrodes:
    """Electrode rows of every channel of ``stream`` (see the module docstring for the rules).

    Parameters
    ----------
    graph : Graph
        The session's graph.
    stream : str
        A SpikeTimes stream.
    n_electrodes : int or None
        Rows of the electrodes table, None when there is none yet.
    electrode_offset : int, optional
        User override: the row of channel 0.
    electrodes : sequence of int, optional
        User override: the row of every channel.

    Raises
    ------
    GraphError
        When the rows cannot be determined, or fall outside the electrodes table.
    """
    spec = graph.get_stream(stream)
    n_channels = crossings_key(spec).chan
    hint = f"pass electrode_offset=<row of channel 0> or electrodes=[<row of each channel>] for stream '{stream}'"
    if electrodes is not None:
        rows = np.asarray(list(electrodes), dtype=np.int64)
        if rows.shape != (n_channels,):
            raise GraphError(
                f"stream '{stream}' has {n_channels} channels but electrodes= lists {len(rows)} rows; give one row "
                "per channel."
            )
        mapping = ChannelElectrodes(rows, "explicit electrodes option")
    elif electrode_offset is not None:
        mapping = ChannelElectrodes(
            np.arange(n_channels) + int(electrode_offset), f"electrode_offset={electrode_offset}"
        )
    else:
        mapping = _from_node_range(graph, spec, n_channels, n_electrodes) or _from_stream_order(
            graph, stream, n_channels, n_electrodes, hint
        )
    _check_rows(mapping, stream, n_electrodes, hint)
    return mapping


def _check_rows(mapping: ChannelElectrodes, stream: str, n_electrodes: int | None, hint: str) -> None:
    rows = mapping.rows
    if len(rows) and rows.min() < 0:
        raise GraphError(f"stream '{stream}': electrode rows must be >= 0 ({mapping.rule}).")
    if n_electrodes is not None and len(rows) and rows.max() >= n_electrodes:
        raise GraphError(
            f"stream '{stream}': its channels map to electrode rows {rows.min()}..{rows.max()} ({mapping.rule}) but the "
            f"electrodes table has {n_electrodes} rows (sum of the implants' electrode_qty); check the participant "
            f"and devices files, or {hint}."
        )


def _node_parameters(graph: Graph, nickname: str | None) -> Mapping:
    node = graph.nodes.get(nickname) if nickname else None
    parameters = node.get("parameters") if isinstance(node, Mapping) else None
    return parameters if isinstance(parameters, Mapping) else {}


def _from_node_range(
    graph: Graph, spec: StreamSpec, n_channels: int, n_electrodes: int | None
) -> ChannelElectrodes | None:
    parameters = _node_parameters(graph, spec.source_nickname)
    channel_range = parameters.get("neural_ch_range")
    if not (isinstance(channel_range, Sequence) and len(channel_range) == 2):
        return None
    try:
        start, stop = (int(value) for value in channel_range)
    except (TypeError, ValueError):
        return None
    if stop - start != n_channels:
        return None
    input_stream = parameters.get("input_stream", parameters.get("input_name"))
    placed = _input_placement(graph, input_stream) if isinstance(input_stream, str) else None
    if placed is None:
        return None
    input_start, input_channels, total = placed
    expected = n_electrodes if n_electrodes is not None else total
    if total != expected or stop > input_channels:
        return None
    first = input_start + start
    rule = (
        f"node '{spec.source_nickname}' neural_ch_range [{start}, {stop}] of input '{input_stream}' "
        f"(channels {input_start}..{input_start + input_channels - 1})"
    )
    return ChannelElectrodes(np.arange(n_channels) + first, rule)


def _input_placement(graph: Graph, input_stream: str) -> tuple[int, int, int] | None:
    """``(first channel, channels, channels of all sibling streams)`` of an acquisition stream, if known."""
    for node in graph.nodes.values():
        parameters = node.get("parameters") if isinstance(node, Mapping) else None
        if not isinstance(parameters, Mapping):
            continue
        names, channels = parameters.get("stream_names"), parameters.get("chan_per_stream")
        if not (isinstance(names, list) and input_stream in names):
            continue
        if isinstance(channels, list) and len(channels) == len(names):
            try:
                counts = [int(value) for value in channels]
            except (TypeError, ValueError):
                return None
            index = names.index(input_stream)
            return sum(counts[:index]), counts[index], sum(counts)
        if len(names) == 1 and isinstance(channels, int | float):
            return 0, int(channels), int(channels)
    spec = graph.streams.get(input_stream)
    if spec is not None:
        widths = {key.chan for key in spec.keys.values() if not key.is_text and key.name == "samples"}
        if len(widths) == 1:
            width = widths.pop()
            return 0, width, width
    return None


def _from_stream_order(
    graph: Graph, stream: str, n_channels: int, n_electrodes: int | None, hint: str
) -> ChannelElectrodes:
    streams = crossing_streams(graph, include=stream)
    names = [name for name, _ in streams]
    widths = [width for _, width in streams]
    total = sum(widths)
    listing = ", ".join(f"'{name}' ({width} channels)" for name, width in streams)
    if n_electrodes is not None and total != n_electrodes:
        raise GraphError(
            f"cannot tell which electrodes stream '{stream}' ({n_channels} channels) covers: its node gives no "
            f"usable neural_ch_range, and the graph's crossing streams {listing} hold {total} channels, not the "
            f"{n_electrodes} electrodes of the participant's implants; {hint}."
        )
    if stream not in names:
        raise GraphError(
            f"cannot tell which electrodes stream '{stream}' covers: its node gives no usable neural_ch_range, and "
            f"it is not a SpikeTimes stream, so the graph's crossing streams ({listing or 'none'}) do not place it; "
            f"{hint}."
        )
    index = names.index(stream)
    first = sum(widths[:index])
    rule = "the only crossing stream" if len(streams) == 1 else f"stream order: {listing}"
    return ChannelElectrodes(np.arange(n_channels) + first, rule)
