"""Which streams of a graph are raw broadband data, written by an acquisition node (a graph fact)."""

from __future__ import annotations

from .stream_specs import StreamSpec
from .supergraph import Graph

#: Acquisition nodes whose streams are raw broadband data (the rest is written as processed data).
ACQUISITION_NODES = frozenset({"cerebusAdapter", "cerebusAdapterGem", "nspAcquisition"})
#: Node-YAML stream names of raw broadband data.
ACQUISITION_YAML_STREAMS = frozenset({"ContinuousNeural", "continuousNeural"})


def is_acquisition_stream(graph: Graph, spec: StreamSpec) -> bool:
    """True for raw broadband streams written by an acquisition node (cerebusAdapter, cerebusAdapterGem, ...)."""
    node = graph.nodes.get(spec.source_nickname or "") or {}
    outputs = node.get("redis_outputs")
    yaml_stream = outputs.get(spec.name) if isinstance(outputs, dict) else None
    return node.get("name") in ACQUISITION_NODES or yaml_stream in ACQUISITION_YAML_STREAMS


def find_recording_streams(graph: Graph, present: set[str] | None = None) -> list[str]:
    """Streams of raw broadband data (written by an acquisition node) that ``BrandRecordingInterface`` converts.

    BRAND leaves them out of NWB (``enable_nwb: False``); a converter adds them when the user asks for raw data.
    ``present``: the streams that have data in the source (default: every stream of the graph).
    """
    return [
        name
        for name, spec in graph.streams.items()
        if (present is None or name in present) and is_acquisition_stream(graph, spec)
    ]


def chosen_recording_streams(
    graph: Graph, present: set[str], streams: list[str] | None, include_raw: bool
) -> list[str]:
    """The raw streams a conversion writes as ElectricalSeries: every one with ``include_raw``, else those named.

    A raw stream is an ElectricalSeries however it is chosen (``include_raw``, or named in ``streams``).
    """
    raw = find_recording_streams(graph, present)
    return raw if include_raw else [name for name in streams or [] if name in raw]
