"""A catalogue of the streams in a BRAND source, joined with what the graph says about each one.

This is what ``neuroconv-brand inspect`` prints. It reads only stream metadata and the first entry of each
stream (``XLEN``, first/last id, one ``XRANGE ... COUNT 1``), so it is quick even on an hour-long session.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import GraphError, NoSupergraphError
from ..graph.stream_specs import KeySpec, StreamSpec
from ..graph.supergraph import Graph
from ..sources.entry_ids import EntryId
from ..sources.session import SUPERGRAPH_STREAM, BrandSession

#: ``StreamSummary.note`` of a stream the graph defines but the source does not hold.
NOT_IN_SOURCE = "not in the source"
#: ``StreamSummary.enable_reason`` of a stream the graph does not define.
NOT_IN_GRAPH = "not in the graph"
#: ``StreamSummary.enable_reason`` of every stream when the source has no readable supergraph.
NO_GRAPH = "no graph"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class KeySummary:
    """One key the graph declares for a stream.

    Attributes
    ----------
    name : str
        The field name.
    chan, samp : int
        ``chan_per_stream`` and ``samp_per_stream``.
    dtype : str
        Numpy dtype name, or ``"str"``.
    layout : {"sample-major", "channel-major"}
        Byte order of the payload.
    exported : bool
        Whether the key has an ``nwb:`` block (only those are written to NWB).
    """

    name: str
    chan: int
    samp: int
    dtype: str
    layout: str
    exported: bool

    @classmethod
    def from_spec(cls, key: KeySpec) -> KeySummary:
        """The summary of a :class:`~neuroconv_brand.graph.stream_specs.KeySpec`."""
        return cls(key.name, key.chan, key.samp, key.dtype, key.layout, key.exported)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "chan": self.chan,
            "samp": self.samp,
            "dtype": self.dtype,
            "layout": self.layout,
            "exported": self.exported,
        }


@dataclass(frozen=True)
class StreamSummary:
    """What the source holds in one stream and what the graph says about it.

    Attributes
    ----------
    name : str
        The stream (Redis key) name.
    length : int
        Number of entries (0 for a stream absent from the source).
    first_id, last_id : EntryId or None
        Ids of the first and last entries.
    fields : list of str
        Field names of the first entry, in the order Redis returns them.
    entry_rate_hz : float or None
        ``(length - 1)`` divided by the time between the first and last entry ids; None with fewer than two
        entries or when they share one millisecond. Entry ids have millisecond resolution, so this is the
        mean rate over the stream, not a declared rate.
    approx_bytes : int or None
        Approximate payload size: the first entry's field values in bytes times ``length`` (field names and
        Redis overhead not counted, later entries assumed the same size). None for an empty stream.
    start_time, end_time : datetime or None
        First and last entry ids' milliseconds as timezone-aware UTC datetimes.
    in_source : bool
        False for a stream the graph defines that the source does not hold (flushed before saving, or
        never written).
    in_graph : bool
        Whether the graph defines the stream.
    type_nwb : str or None
        The stream's NWB mechanism from the graph.
    enabled : bool or None
        The effective export switch; None when the graph does not define the stream.
    enable_reason : str
        Why ``enabled`` has its value (from the graph), or :data:`NOT_IN_GRAPH` / :data:`NO_GRAPH`.
    declared_rate_hz : float or None
        The graph's ``rate`` for the stream.
    source_nickname : str or None
        The node that writes the stream.
    sync_labels : list of str
        The graph's sync labels for the stream (blocking label first).
    keys : list of KeySummary
        The keys the graph declares, in declaration order.
    note : str or None
        Something the user should know about the stream (e.g. :data:`NOT_IN_SOURCE`).
    """

    name: str
    length: int = 0
    first_id: EntryId | None = None
    last_id: EntryId | None = None
    fields: list[str] = field(default_factory=list)
    entry_rate_hz: float | None = None
    approx_bytes: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    in_source: bool = True
    in_graph: bool = False
    type_nwb: str | None = None
    enabled: bool | None = None
    enable_reason: str = NOT_IN_GRAPH
    declared_rate_hz: float | None = None
    source_nickname: str | None = None
    sync_labels: list[str] = field(default_factory=list)
    keys: list[KeySummary] = field(default_factory=list)
    note: str | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds between the first and last entry ids (None for an empty stream)."""
        if self.first_id is None or self.last_id is None:
            return None
        return (self.last_id.ms - self.first_id.ms) / 1000.0

    @property
    def undeclared_fields(self) -> list[str]:
        """Fields of the first entry that the graph does not declare as keys (``sync``, ``ts``, ...)."""
        declared = {key.name for key in self.keys}
        return [name for name in self.fields if name not in declared]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ids as ``"ms-seq"`` strings, times as ISO 8601 UTC strings."""
        return {
            "name": self.name,
            "length": self.length,
            "first_id": _text_or_none(self.first_id),
            "last_id": _text_or_none(self.last_id),
            "fields": list(self.fields),
            "entry_rate_hz": self.entry_rate_hz,
            "approx_bytes": self.approx_bytes,
            "start_time": _iso_or_none(self.start_time),
            "end_time": _iso_or_none(self.end_time),
            "duration_s": self.duration_s,
            "in_source": self.in_source,
            "in_graph": self.in_graph,
            "type_nwb": self.type_nwb,
            "enabled": self.enabled,
            "enable_reason": self.enable_reason,
            "declared_rate_hz": self.declared_rate_hz,
            "source_nickname": self.source_nickname,
            "sync_labels": list(self.sync_labels),
            "keys": [key.to_dict() for key in self.keys],
            "note": self.note,
        }


@dataclass(frozen=True)
class MetadataFile:
    """A participant or devices file the graph names.

    Attributes
    ----------
    role : {"participant", "devices"}
        What the file describes.
    named_as : str or None
        The path as written in the graph (None when the graph names none).
    path : Path or None
        ``named_as`` resolved: relative paths against the BRAND base directory (as BRAND does), None when
        relative and no base directory was given.
    exists : bool
        Whether ``path`` is an existing file.
    """

    role: str
    named_as: str | None
    path: Path | None
    exists: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "role": self.role,
            "named_as": self.named_as,
            "path": None if self.path is None else str(self.path),
            "exists": self.exists,
        }


@dataclass(frozen=True)
class SessionCatalogue:
    """Everything ``inspect`` reports about a source.

    Attributes
    ----------
    source : str
        The source's description.
    graph : Graph or None
        The parsed graph (None without a readable supergraph).
    streams : list of StreamSummary
        Every stream of the source and of the graph, sorted by name.
    metadata_files : list of MetadataFile
        The participant and devices files (only when there is a graph).
    problems : list of str
        The graph's non-fatal findings (:attr:`Graph.problems`).
    notes : list of str
        Why the graph is missing, if it is.
    """

    source: str
    graph: Graph | None
    streams: list[StreamSummary]
    metadata_files: list[MetadataFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        graph = None
        if self.graph is not None:
            graph = {
                "era": self.graph.era,
                "graph_name": self.graph.graph_name,
                "participant_id": self.graph.participant_id,
                "description": self.graph.description,
                "derivative_name": self.graph.derivative_name,
            }
        return {
            "source": self.source,
            "graph": graph,
            "streams": [stream.to_dict() for stream in self.streams],
            "metadata_files": [item.to_dict() for item in self.metadata_files],
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


def build_catalogue(session: BrandSession, graph: Graph | None) -> list[StreamSummary]:
    """Summarise every stream of ``session``'s source, and every stream ``graph`` defines.

    Parameters
    ----------
    session : BrandSession
        The open source.
    graph : Graph or None
        The session's graph; None when the source has no (readable) supergraph.

    Returns
    -------
    list of StreamSummary
        Sorted by stream name. Streams the graph defines that the source lacks have ``length`` 0,
        ``in_source`` False and the note :data:`NOT_IN_SOURCE`.
    """
    source = session.source
    specs = graph.streams if graph is not None else {}
    summaries = {}
    for name in source.stream_names():
        try:
            stats = source.stream_stats(name)
        except KeyError:  # deleted between the listing and this read (a live rig)
            continue
        first = source.read_range(name, count=1) if stats.length else []
        first_fields = first[0][1] if first else {}
        summaries[name] = _summarise(name, stats.length, stats.first_id, stats.last_id, first_fields)
    for name in specs:
        if name not in summaries:
            summaries[name] = StreamSummary(name=name, in_source=False, note=NOT_IN_SOURCE)
    reason = NOT_IN_GRAPH if graph is not None else NO_GRAPH
    return [_with_spec(summaries[name], specs.get(name), reason) for name in sorted(summaries)]


def describe_session(
    session: BrandSession, brand_base_dir: str | os.PathLike | None = None
) -> SessionCatalogue:
    """The full ``inspect`` report: the graph (if readable), the stream catalogue and the metadata files.

    A source without a supergraph, or whose supergraph cannot be interpreted, still gets a catalogue; the
    reason is in ``notes``.

    Parameters
    ----------
    session : BrandSession
        The open source.
    brand_base_dir : path, optional
        The BRAND checkout the session ran from, for node YAMLs and relative participant/devices paths.
    """
    notes: list[str] = []
    graph = None
    try:
        graph = session.graph(brand_base_dir=brand_base_dir)
    except NoSupergraphError as error:
        notes.append(f"{error} Streams are listed without graph information.")
    except GraphError as error:
        notes.append(
            f"the graph in '{SUPERGRAPH_STREAM}' could not be interpreted: {error}. Streams are listed "
            "without graph information."
        )
    streams = build_catalogue(session, graph)
    files, problems = [], []
    if graph is not None:
        files = [
            _metadata_file("participant", graph.participant_file, brand_base_dir),
            _metadata_file("devices", graph.devices_file, brand_base_dir),
        ]
        problems = list(graph.problems)
    return SessionCatalogue(session.location.description, graph, streams, files, problems, notes)


def _summarise(
    name: str,
    length: int,
    first_id: EntryId | None,
    last_id: EntryId | None,
    first_fields: dict[bytes, bytes],
) -> StreamSummary:
    rate = None
    if length >= 2 and first_id is not None and last_id is not None and last_id.ms > first_id.ms:
        rate = (length - 1) / ((last_id.ms - first_id.ms) / 1000.0)
    entry_bytes = sum(len(value) for value in first_fields.values())
    note = None
    if b"_hdr" in first_fields and b"data" in first_fields:
        note = "entries use the 2025 msgpack encoding (_hdr/data), which this version does not decode"
    return StreamSummary(
        name=name,
        length=length,
        first_id=first_id,
        last_id=last_id,
        fields=[key.decode(errors="replace") for key in first_fields],
        entry_rate_hz=rate,
        approx_bytes=entry_bytes * length if length else None,
        start_time=_utc(first_id),
        end_time=_utc(last_id),
        note=note,
    )


def _with_spec(summary: StreamSummary, spec: StreamSpec | None, reason: str) -> StreamSummary:
    if spec is None:
        return replace(summary, enable_reason=reason)
    return replace(
        summary,
        in_graph=True,
        type_nwb=spec.type_nwb,
        enabled=spec.enabled,
        enable_reason=spec.enable_reason,
        declared_rate_hz=spec.rate,
        source_nickname=spec.source_nickname,
        sync_labels=list(spec.sync_labels),
        keys=[KeySummary.from_spec(key) for key in spec.keys.values()],
    )


def _metadata_file(role: str, named_as: str | None, brand_base_dir: str | os.PathLike | None) -> MetadataFile:
    if not named_as:
        return MetadataFile(role, None, None, False)
    path = Path(named_as).expanduser()
    if not path.is_absolute():
        if brand_base_dir is None:
            return MetadataFile(role, named_as, None, False)
        path = Path(os.path.normpath(Path(brand_base_dir) / path))
    return MetadataFile(role, named_as, path, path.is_file())


def _utc(entry_id: EntryId | None) -> datetime | None:
    if entry_id is None:
        return None
    return _EPOCH + timedelta(milliseconds=entry_id.ms)


def _text_or_none(entry_id: EntryId | None) -> str | None:
    return None if entry_id is None else str(entry_id)


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds")


def format_catalogue(catalogue: SessionCatalogue) -> str:
    """The human-readable ``inspect`` report: a table of streams, the metadata files, problems and notes.

    Each stream row gives its NWB mechanism, whether it is exported and why, the entry count, the mean entry
    rate, the approximate payload size and the time span (UTC); the keys the graph declares follow on
    indented lines, then the entry fields the graph does not declare.
    """
    lines = [f"Source: {catalogue.source}"]
    graph = catalogue.graph
    if graph is not None:
        details = [f"era {graph.era}"]
        if graph.derivative_name:
            details.append(f"exportNWB derivative '{graph.derivative_name}'")
        if graph.participant_id:
            details.append(f"participant {graph.participant_id}")
        lines.append(f"Graph: {graph.graph_name or '(unnamed)'} ({', '.join(details)})")
    else:
        lines.append("Graph: none")
    lines.append("")
    lines.extend(_stream_table(catalogue.streams))
    if catalogue.metadata_files:
        lines.append("")
        lines.extend(_describe_file(item) for item in catalogue.metadata_files)
    if graph is not None:
        lines.append("")
        if catalogue.problems:
            lines.append(f"Graph problems ({len(catalogue.problems)}):")
            lines.extend(f"  - {problem}" for problem in catalogue.problems)
        else:
            lines.append("Graph problems: none")
    if catalogue.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in catalogue.notes)
    return "\n".join(lines)


_COLUMNS = ("stream", "type_nwb", "export", "entries", "rate (Hz)", "size", "start (UTC)", "duration")
_RIGHT_ALIGNED = frozenset({"entries", "rate (Hz)", "size", "duration"})


def _stream_table(streams: list[StreamSummary]) -> list[str]:
    rows = [_row(stream) for stream in streams]
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(_COLUMNS)]

    def join(cells: tuple[str, ...]) -> str:
        padded = (
            cell.rjust(width) if column in _RIGHT_ALIGNED else cell.ljust(width)
            for column, cell, width in zip(_COLUMNS, cells, widths)
        )
        return "  ".join(padded).rstrip()

    lines = [join(_COLUMNS)]
    for stream, row in zip(streams, rows):
        lines.append(join(row))
        lines.extend(f"    {detail}" for detail in _details(stream))
    return lines


def _row(stream: StreamSummary) -> tuple[str, ...]:
    if stream.enabled is None:
        export = f"- ({stream.enable_reason})"
    else:
        export = f"{'yes' if stream.enabled else 'no'} ({stream.enable_reason})"
    return (
        stream.name,
        stream.type_nwb or "-",
        export,
        str(stream.length),
        "-" if stream.entry_rate_hz is None else f"{stream.entry_rate_hz:.4g}",
        "-" if stream.approx_bytes is None else f"~{_human_bytes(stream.approx_bytes)}",
        "-" if stream.start_time is None else stream.start_time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "-" if stream.duration_s is None else f"{stream.duration_s:.3f} s",
    )


def _details(stream: StreamSummary) -> list[str]:
    details = []
    for key in stream.keys:
        parts = [f"{key.chan} ch x {key.samp} samp", key.dtype]
        if key.layout != "sample-major":
            parts.append(key.layout)
        parts.append("exported" if key.exported else "not exported (no nwb block)")
        details.append(f"key {key.name}: {', '.join(parts)}")
    other = stream.undeclared_fields
    if other:
        details.append(f"{'other fields' if stream.keys else 'fields'}: {', '.join(other)}")
    if stream.note:
        details.append(f"note: {stream.note}")
    return details


def _describe_file(item: MetadataFile) -> str:
    title = f"{item.role.capitalize()} file"
    if item.named_as is None:
        return f"{title}: not named in the graph"
    if item.path is None:
        return f"{title}: {item.named_as} (relative to the BRAND base directory; pass --brand-base-dir to locate it)"
    shown = item.named_as if str(item.path) == item.named_as else f"{item.named_as} -> {item.path}"
    return f"{title}: {shown} ({'found' if item.exists else 'missing'})"


def _human_bytes(count: int) -> str:
    units = ("B", "kB", "MB", "GB", "TB")
    exponent = min(int(math.log10(max(count, 1)) // 3), len(units) - 1)
    if exponent == 0:
        return f"{count} B"
    return f"{count / 1000**exponent:.1f} {units[exponent]}"
