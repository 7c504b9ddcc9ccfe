"""Threshold crossings of a BRAND stream (``thresh_cross``) as a SpikeInterface sorting, one unit per channel.

Each non-zero value of the crossings key is one spike of that channel's unit (as in the units table a conversion
writes, and in exportNWB: a count above 1 is still one spike), at the time the spike-times interface gives it: the entry's
time, plus ``k / (entry rate * samp)`` for sample ``k`` of an entry holding ``samp`` samples
(:func:`~neuroconv_brand.mechanisms.crossings.crossing_times`). Spike frames count sample periods from the first
entry, so spike times have the sample resolution (1 ms for BRAND's 1 kHz one-sample streams).
"""

from __future__ import annotations

import warnings
from os import PathLike

import numpy as np
from spikeinterface.core import BaseSorting, BaseSortingSegment

from ..errors import GraphError
from ..mechanisms.crossings import crossing_times, crossings_key, find_crossings
from ..participant.electrode_map import map_channels_to_electrodes
from ..reading.decoding import OnBadEntry
from ..reading.stream_reader import EntryBatch, StreamReader, concatenate_batches
from ..sources.session import find_stream_spec, open_session_graph
from ..timing.clocks import Clock, sample_rate
from ..timing.session_clocks import session_entry_times
from ..timing.session_start import session_start_ms
from .raw_stream_plan import RecordingConfigurationError


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
        exported numeric key (see :func:`~neuroconv_brand.mechanisms.crossings.crossings_key`).
    sampling_frequency : float, optional
        Frames per second of the spike trains; default the sample rate of the crossings: the entry rate (graph
        ``rate``, else measured) x samples per entry.
    unit_ids : list of int, optional
        Unit id of each channel; default the channel's electrode row, as the units table of a conversion links
        it (:func:`~neuroconv_brand.participant.electrode_map.map_channels_to_electrodes` without a participant
        file: the writing node's ``neural_ch_range`` and input, else the order of the graph's crossing streams).
        Where that cannot be determined (``key=`` names another key than the graph's crossings key, or the
        graph names none), the channel index, with a warning.
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
        self.spec = spec = find_stream_spec(self.session, self.graph, stream_name)
        self.key = crossings_key(spec, key, only_numeric_fallback=True)
        self.session_start_ms = session_start_ms(self.session, self.graph)
        entries, samples, channels, timeline = self._read_crossings(on_bad_entry, clock)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times = session_entry_times(
                self.session, self.graph, spec, timeline, clock, self.session_start_ms, on_bad_entry
            ).seconds
        rate = sample_rate(times, spec.rate, self.key.samp)
        fs = float(sampling_frequency) if sampling_frequency else rate
        if not fs:
            raise RecordingConfigurationError(
                f"stream '{stream_name}': the entry rate cannot be measured; pass sampling_frequency=."
            )
        ids = self._unit_ids(unit_ids)
        BaseSorting.__init__(self, fs, ids)
        frames = np.round((crossing_times(times, entries, samples, rate) - times[0]) * fs).astype(np.int64)
        self.add_sorting_segment(BrandSortingSegment(frames, channels, len(ids), float(times[0])))
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

    def _read_crossings(
        self, on_bad_entry: OnBadEntry, clock: Clock
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, EntryBatch]:
        """Entry, sample and channel of every spike (every non-zero value), and the stream's timeline."""
        reader = StreamReader(
            self.session.source,
            self.spec,
            keys=[self.key.name],
            on_bad_entry=on_bad_entry,
            with_sync=clock == "sync",
            with_monotonic=clock == "monotonic",
        )
        spikes, timeline_parts = [], []
        offset = 0
        for batch in reader.iter_batches():
            entry, sample, channel = find_crossings(batch.data[self.key.name])  # (entries, samp, chan)
            spikes.append((entry + offset, sample, channel))
            timeline_parts.append(EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns))
            offset += len(batch)
        if offset == 0:
            raise GraphError(f"stream '{self.spec.name}' has no entries.")
        entries, samples, channels = (np.concatenate(column).astype(np.int64) for column in zip(*spikes))
        return entries, samples, channels, concatenate_batches(self.spec.name, timeline_parts)

    def _unit_ids(self, unit_ids: list[int] | None) -> np.ndarray:
        num_channels = self.key.chan
        if unit_ids is not None:
            ids = np.asarray(unit_ids, dtype=np.int64)
            if len(ids) != num_channels or len(np.unique(ids)) != len(ids):
                raise RecordingConfigurationError(
                    f"stream '{self.spec.name}': unit_ids must be {num_channels} distinct numbers, one per channel."
                )
            return ids
        try:
            graph_key = crossings_key(self.spec)
            if graph_key.name == self.key.name:
                return map_channels_to_electrodes(self.graph, self.spec.name, n_electrodes=None).rows
            reason = f"key '{self.key.name}' is not the graph's crossings key '{graph_key.name}'"
        except GraphError as error:
            reason = str(error).rstrip(".")
        warnings.warn(
            f"stream '{self.spec.name}': the electrode of each channel cannot be determined ({reason}); unit ids are "
            f"the channel indices 0..{num_channels - 1}. Pass unit_ids= with the electrode of each channel.",
            stacklevel=3,
        )
        return np.arange(num_channels, dtype=np.int64)


class BrandSortingSegment(BaseSortingSegment):
    """The spike frames of every unit (channel) of a :class:`BrandSortingExtractor`.

    Parameters
    ----------
    frames : np.ndarray
        Spike frames (periods of the sampling frequency since the first entry), any order.
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
