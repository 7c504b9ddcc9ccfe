"""Threshold crossings of a BRAND stream (``thresh_cross``) as a SpikeInterface sorting, one unit per channel.

Each non-zero value of the crossings key in an entry is a spike of that channel's unit at the entry's time (a
count above 1, as in binned streams, gives that many spikes at the same time). Spike frames count entry
periods from the first entry, so spike times have the entry resolution (1 ms for BRAND's 1 kHz streams).
"""

from __future__ import annotations

import warnings
from os import PathLike

import numpy as np
from spikeinterface.core import BaseSorting, BaseSortingSegment

from ..errors import GraphError
from ..graph.stream_specs import KeySpec, StreamSpec
from ..mechanisms.crossings import named_crossings, nwb_blocks
from ..reading.decoding import OnBadEntry
from ..reading.stream_reader import EntryBatch, StreamReader, concatenate_batches
from ..sources.session import open_session_graph
from ..timing.clocks import Clock, entry_rate
from ..timing.session_clocks import session_entry_times
from ..timing.session_start import session_start_ms
from .recording_extractor import RecordingConfigurationError


class BrandSortingExtractor(BaseSorting):
    """A SpikeInterface sorting over a BRAND threshold-crossing stream: one unit per channel.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The stream, e.g. ``"thresh_cross"`` or ``"thresh_cross_2"``.
    key : str, optional
        The crossings field; default the one the node YAML names in ``nwb: {crossings: ...}``, else the only
        exported key.
    sampling_frequency : float, optional
        Frames per second of the spike trains; default the entry rate (graph ``rate``, else measured).
    unit_ids : list of int, optional
        Unit id (electrode number) of each channel; default ``neural_ch_range[0] + channel`` when the writing
        node has that parameter (nsp_all per array), else the channel index.
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries (see :mod:`neuroconv_brand.timing.clocks`).
    brand_base_dir : str, optional
        The BRAND base directory, for graphs whose supergraph has no compiled stream definitions.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or drop them with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server.
    """

    extractor_name = "BrandSorting"
    name = "brand"

    def __init__(
        self,
        file_path: str | PathLike,
        stream_name: str,
        key: str | None = None,
        sampling_frequency: float | None = None,
        unit_ids: list[int] | None = None,
        clock: Clock = "sync",
        brand_base_dir: str | PathLike | None = None,
        derivative: str | None = None,
        on_bad_entry: OnBadEntry = "raise",
        redis_server_path: str | PathLike | None = None,
    ):
        self.session, self.graph = open_session_graph(
            self, file_path, brand_base_dir, derivative, redis_server_path
        )
        spec = self.graph.streams.get(stream_name)
        if spec is None or stream_name not in set(self.session.source.stream_names()):
            known = ", ".join(sorted(self.graph.streams)) or "none"
            raise GraphError(f"stream '{stream_name}' is not in the graph or has no data; streams: {known}.")
        self.spec = spec
        self.key = _crossings_key(spec, key)
        self.session_start_ms = session_start_ms(self.session, self.graph)
        reader = StreamReader(
            self.session.source,
            spec,
            keys=[self.key.name],
            on_bad_entry=on_bad_entry,
            with_sync=clock == "sync",
            with_monotonic=clock == "monotonic",
        )
        entries, channels, timeline_parts = [], [], []
        offset = 0
        for batch in reader.iter_batches():
            counts = batch.data[self.key.name].reshape(len(batch), -1)
            entry, channel = np.nonzero(counts)
            repeat = np.abs(counts[entry, channel]).astype(np.int64)
            entries.append(np.repeat(entry + offset, repeat))
            channels.append(np.repeat(channel, repeat))
            timeline_parts.append(EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns))
            offset += len(batch)
        if offset == 0:
            raise GraphError(f"stream '{stream_name}' has no entries.")
        timeline = concatenate_batches(stream_name, timeline_parts)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times = session_entry_times(
                self.session, self.graph, spec, timeline, clock, self.session_start_ms, on_bad_entry
            ).seconds
        fs = float(sampling_frequency) if sampling_frequency else entry_rate(times, spec.rate)
        if not fs:
            raise RecordingConfigurationError(
                f"stream '{stream_name}': the entry rate cannot be measured; pass sampling_frequency=."
            )
        ids = self._unit_ids(unit_ids, self.key.chan * self.key.samp)
        BaseSorting.__init__(self, fs, ids)
        entries_all = np.concatenate(entries) if entries else np.zeros(0, np.int64)
        channels_all = np.concatenate(channels) if channels else np.zeros(0, np.int64)
        frames = np.round((times[entries_all] - times[0]) * fs).astype(np.int64)
        self.add_sorting_segment(BrandSortingSegment(frames, channels_all, len(ids), float(times[0])))
        self.annotate(brand_stream=stream_name, brand_key=self.key.name)
        self._kwargs = dict(
            file_path=str(file_path),
            stream_name=stream_name,
            key=key,
            sampling_frequency=sampling_frequency,
            unit_ids=None if unit_ids is None else [int(u) for u in unit_ids],
            clock=clock,
            brand_base_dir=None if brand_base_dir is None else str(brand_base_dir),
            derivative=derivative,
            on_bad_entry=on_bad_entry,
            redis_server_path=None if redis_server_path is None else str(redis_server_path),
        )

    def _unit_ids(self, unit_ids: list[int] | None, num_channels: int) -> np.ndarray:
        if unit_ids is not None:
            ids = np.asarray(unit_ids, dtype=np.int64)
            if len(ids) != num_channels or len(np.unique(ids)) != len(ids):
                raise RecordingConfigurationError(
                    f"stream '{self.spec.name}': unit_ids must be {num_channels} distinct numbers, one per channel."
                )
            return ids
        node = self.graph.nodes.get(self.spec.source_nickname or "") or {}
        channel_range = (node.get("parameters") or {}).get("neural_ch_range")
        first = channel_range[0] if isinstance(channel_range, list) and channel_range else 0
        return np.arange(num_channels, dtype=np.int64) + int(first)


def _crossings_key(spec: StreamSpec, key: str | None) -> KeySpec:
    if key is not None:
        if key not in spec.keys:
            raise GraphError(
                f"stream '{spec.name}' declares no key '{key}' (declared: {', '.join(spec.keys)})."
            )
        return spec.keys[key]
    for _, named in named_crossings(nwb_blocks(spec)):
        if isinstance(named, str) and named in spec.keys:
            return spec.keys[named]
    numeric = [k for k in spec.exported_keys.values() if not k.is_text]
    if len(numeric) == 1:
        return numeric[0]
    raise GraphError(
        f"stream '{spec.name}': name the crossings field with key= (declared: {', '.join(spec.keys)})."
    )


class BrandSortingSegment(BaseSortingSegment):
    """The spike frames of every unit (channel) of a :class:`BrandSortingExtractor`.

    Parameters
    ----------
    frames : np.ndarray
        Spike frames (entry periods since the first entry), any order.
    channels : np.ndarray
        The channel index of each spike.
    num_channels : int
        Channels (units).
    t_start : float
        Session time of frame 0 (the first entry).
    """

    def __init__(self, frames: np.ndarray, channels: np.ndarray, num_channels: int, t_start: float):
        BaseSortingSegment.__init__(self, t_start=t_start)
        order = np.lexsort((frames, channels))
        self._frames = frames[order]
        self._bounds = np.searchsorted(channels[order], np.arange(num_channels + 1))

    def get_unit_spike_train(
        self, unit_id, start_frame: int | None = None, end_frame: int | None = None
    ) -> np.ndarray:
        """Spike frames of ``unit_id`` in ``[start_frame, end_frame)``."""
        index = int(self.parent_extractor.id_to_index(unit_id))
        train = self._frames[self._bounds[index] : self._bounds[index + 1]]
        first = 0 if start_frame is None else np.searchsorted(train, start_frame)
        stop = len(train) if end_frame is None else np.searchsorted(train, end_frame)
        return train[first:stop]
