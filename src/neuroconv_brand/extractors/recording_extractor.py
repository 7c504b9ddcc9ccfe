"""Continuous neural data of a BRAND stream as a SpikeInterface recording.

:class:`BrandRecordingExtractor` is a :class:`spikeinterface.core.BaseRecording` over one key of one stream
(``nsp_neural.samples``, ``continuousNeural.samples``, a filtered or re-referenced stream). Construction reads
the stream once (:mod:`.recording_index`): each entry's samples and clock are decoded together, the samples
spooled to a temporary file and the clock kept for the index (entry ids, contiguous runs, gaps), so nothing of
the samples stays in memory. :meth:`BrandRecordingSegment.get_traces` then reads the requested frames back from
the spool file, whatever the range, and never decodes the stream again.

Times
    With ``timing="nsp"`` every sample is stamped by the stream's own NSP clock (the per-sample
    ``timestamps`` field of cerebusAdapter/cerebusAdapterGem/the Stavisky variant, 30 kHz ticks), mapped onto
    the session clock by the median of ``redis_time - nsp_time`` over the entries (one offset per NSP clock
    epoch: a clock that restarts starts a new epoch). With ``timing="entries"`` the entry times of
    :mod:`neuroconv_brand.timing.clocks` stamp the first sample of each entry.
Gaps
    Dropped packets (the NSP clock jumps) and clock restarts are never smoothed away. By default the recording
    has one segment per contiguous run of samples, each with ``t_start`` and the sampling frequency, so memory
    does not grow with the session (explicit per-sample times of an hour at 30 kHz are 864 MB of float64).
    ``gaps="timestamps"`` instead gives one segment with an explicit time vector. Either way the gaps are
    listed in :attr:`BrandRecordingExtractor.gaps` and reported in a warning.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
from spikeinterface.core import BaseRecording, BaseRecordingSegment
from spikeinterface.core.core_tools import define_function_from_class

from ..graph.acquisition import is_acquisition_stream
from ..interruption import check_interrupted
from ..reading.decoding import OnBadEntry
from ..reading.read_once_rows import ReadOnceRows
from ..reading.stream_spool import read_workers as default_read_workers
from ..sources.session import open_session_graph
from ..timing.clocks import Clock
from .raw_stream_plan import (
    GapMode,
    RecordingConfigurationError,
    Timing,
    plan_raw_stream,
    start_raw_pass,
)
from .recording_index import RecordingGap

__all__ = ["BrandRecordingExtractor", "BrandRecordingSegment", "RecordingGap", "read_brand"]


def load_channel_map(
    channel_map: Sequence[int] | str | PathLike | None, num_channels: int, where: str
) -> np.ndarray:
    """Electrode number (0-based row of the electrodes table) of each channel of the stream, in stream order.

    Parameters
    ----------
    channel_map : sequence of int, path or None
        None: channel ``c`` is electrode ``c``. A sequence: 0-based electrode numbers, one per channel. A path to
        a JSON file holding either such a list, or ``{"electrode_mapping": [...]}`` with **1-based** numbers (the
        Stavisky-lab channel map).
    num_channels : int
        Channels of the stream.
    where : str
        ``"stream 'x', key 'y'"`` for messages.

    Raises
    ------
    RecordingConfigurationError
        Unreadable file, wrong length, negative, non-integer or repeated electrode numbers.
    """
    if channel_map is None:
        return np.arange(num_channels, dtype=np.int64)
    source = "channel_map"
    if isinstance(channel_map, str | PathLike):
        path = Path(channel_map)
        source = f"channel map {path}"
        try:
            content = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise RecordingConfigurationError(
                f"{where}: cannot read the {source} ({error}); expected a JSON list of 0-based electrode numbers "
                'or {"electrode_mapping": [1-based numbers]}.'
            ) from None
        if isinstance(content, dict) and "electrode_mapping" in content:
            values, base = content["electrode_mapping"], 1
        elif isinstance(content, list):
            values, base = content, 0
        else:
            raise RecordingConfigurationError(
                f"{where}: the {source} is neither a JSON list nor an object with 'electrode_mapping'."
            )
    else:
        values, base = list(channel_map), 0
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        raise RecordingConfigurationError(f"{where}: the {source} must hold integers only.")
    electrodes = np.asarray(values, dtype=np.int64) - base
    if len(electrodes) != num_channels:
        raise RecordingConfigurationError(
            f"{where}: the {source} has {len(electrodes)} entries but the stream has {num_channels} channels; "
            "give one electrode number per channel, in stream order."
        )
    if len(electrodes) and electrodes.min() < 0:
        raise RecordingConfigurationError(
            f"{where}: the {source} has electrode numbers below {base} ({'1-based' if base else '0-based'})."
        )
    unique, counts = np.unique(electrodes, return_counts=True)
    if (counts > 1).any():
        repeated = (unique[counts > 1] + base).tolist()[:5]
        raise RecordingConfigurationError(
            f"{where}: the {source} assigns electrode(s) {repeated} to several channels."
        )
    return electrodes


# ---------------------------------------------------------------------------------------- the extractor


class BrandRecordingExtractor(BaseRecording):
    """A SpikeInterface recording over one key of one BRAND stream (continuous neural data).

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The stream, e.g. ``"nsp_neural"`` (cerebusAdapterGem) or ``"continuousNeural"`` (Stavisky lab).
    key : str
        The field holding the samples.
    sampling_frequency : float, optional
        Samples per second. Default: the graph's entry ``rate`` times ``samp_per_stream``, else the ``samp_freq``
        parameter of an acquisition node (cerebusAdapter, cerebusAdapterGem).
    gain_to_uv : float, optional
        Microvolts per stored unit. Default: from the key's ``nwb: unit`` (``"0.25uV"`` -> 0.25).
    offset_to_uv : float
        Microvolts added after the gain.
    channel_map : list of int or str, optional
        Electrode number (0-based row of the electrodes table) of each channel, in stream order, or a JSON
        file with such a list or the Stavisky form ``{"electrode_mapping": [1-based numbers]}``. Default:
        channel ``c`` is electrode ``c``. Channel ids are the electrode numbers.
    timing : {"auto", "nsp", "entries"}
        ``"nsp"``: per-sample times from the stream's own clock field (``timestamps_key``); ``"entries"``: from
        the entry clock (``clock``); ``"auto"``: ``"nsp"`` when the entries carry ``timestamps_key``.
    timestamps_key : str
        The field with the NSP clock (one value per sample, or one per entry for its first sample).
    timestamps_rate : float, optional
        Ticks per second of that clock. Default: the sampling frequency (30 kHz NSP ticks).
    gaps : {"segments", "timestamps"}
        How discontinuities are represented: one segment per contiguous run (``t_start`` + sampling frequency,
        memory independent of duration), or one segment with an explicit time vector (8 bytes per sample).
    clock : {"sync", "monotonic", "redis"}
        The entry clock for ``timing="entries"`` (see :mod:`neuroconv_brand.timing.clocks`).
    brand_base_dir : str, optional
        The BRAND base directory, for graphs whose supergraph has no compiled stream definitions.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or leave them out with a warning (their
        samples then show up as a gap).
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server.
    read_workers : int, optional
        Processes that decode the stream's id ranges side by side at construction. Default
        ``$NEUROCONV_BRAND_READ_WORKERS`` (``neuroconv-brand convert --read-workers``), else the usable CPUs (at
        most 4); 1 reads in this process.
    all_annotations : bool
        Accepted for NeuroConv's extractor interface; every annotation is always loaded.
    """

    extractor_name = "BrandRecording"
    mode = "file"
    installation_mesg = ""
    name = "brand"

    def __init__(
        self,
        file_path: str | PathLike,
        stream_name: str,
        key: str = "samples",
        sampling_frequency: float | None = None,
        gain_to_uv: float | None = None,
        offset_to_uv: float = 0.0,
        channel_map: list[int] | str | PathLike | None = None,
        timing: Timing = "auto",
        timestamps_key: str = "timestamps",
        timestamps_rate: float | None = None,
        gaps: GapMode = "segments",
        clock: Clock = "sync",
        brand_base_dir: str | PathLike | None = None,
        derivative: str | None = None,
        on_bad_entry: OnBadEntry = "raise",
        redis_server_path: str | PathLike | None = None,
        read_workers: int | None = None,
        all_annotations: bool = True,
    ):
        self.session, self.graph = open_session_graph(
            self, file_path, brand_base_dir, derivative, redis_server_path
        )
        plan = plan_raw_stream(
            self.session,
            self.graph,
            stream_name,
            key,
            sampling_frequency,
            gain_to_uv,
            timing,
            timestamps_key,
            timestamps_rate,
            gaps,
            clock,
            on_bad_entry,
        )
        self.spec, self.key = plan.spec, plan.key
        where = f"stream '{stream_name}', key '{key}'"
        fs = plan.sampling_frequency
        electrodes = load_channel_map(channel_map, self.key.chan, where)
        BaseRecording.__init__(self, fs, electrodes, self.key.numpy_dtype.newbyteorder("="))

        self.on_bad_entry: OnBadEntry = on_bad_entry
        self.timestamps_key = timestamps_key
        self.clock: Clock = clock
        self.session_start_ms = plan.session_start_ms
        workers = default_read_workers() if read_workers is None else int(read_workers)
        if workers < 1:
            raise RecordingConfigurationError(f"read_workers must be at least 1, got {read_workers}.")
        self._index = start_raw_pass(self.session, self.graph, plan, workers)
        if self._index.skipped:
            warnings.warn(
                f"{where}: left out {self._index.skipped} entries whose payload did not match the declared shape "
                "(on_bad_entry='skip'); their samples are reported as gaps.",
                stacklevel=2,
            )
        samples = self._index.samples
        if gaps == "timestamps" and len(self._index.runs) > 1:
            self.add_recording_segment(
                BrandRecordingSegment(samples, 0, samples.rows, fs, None, self._index.times)
            )
        else:
            for run in self._index.runs:
                self.add_recording_segment(
                    BrandRecordingSegment(samples, run.first_sample, run.num_samples, fs, run.t_start)
                )
        self._report_gaps(where)

        self.set_channel_gains(plan.gain_to_uv)
        self.set_channel_offsets(float(offset_to_uv))
        self.set_property("channel_name", [str(e) for e in electrodes])
        self.annotate(
            brand_stream=stream_name,
            brand_key=key,
            brand_timing=self._index.timing,
            is_filtered=not is_acquisition_stream(self.graph, self.spec),
        )
        self._kwargs = dict(
            file_path=str(file_path),
            stream_name=stream_name,
            key=key,
            sampling_frequency=sampling_frequency,
            gain_to_uv=gain_to_uv,
            offset_to_uv=offset_to_uv,
            channel_map=[int(e) for e in channel_map]
            if isinstance(channel_map, list | tuple | np.ndarray)
            else (None if channel_map is None else str(channel_map)),
            timing=timing,
            timestamps_key=timestamps_key,
            timestamps_rate=timestamps_rate,
            gaps=gaps,
            clock=clock,
            brand_base_dir=None if brand_base_dir is None else str(brand_base_dir),
            derivative=derivative,
            on_bad_entry=on_bad_entry,
            redis_server_path=None if redis_server_path is None else str(redis_server_path),
            read_workers=read_workers,
        )

    # --- public read-outs -------------------------------------------------------------------------------

    @property
    def gaps(self) -> list[RecordingGap]:
        """Every discontinuity of the sample clock, in order."""
        return list(self._index.gaps)

    @property
    def entry_ids(self) -> np.ndarray:
        """``(n, 2)`` uint64 ``(ms, seq)`` ids of the entries that hold the samples, in order."""
        return self._index.ids

    @property
    def timing(self) -> Literal["nsp", "entries"]:
        """What stamps the samples (``"nsp"``, the stream's NSP clock field, or ``"entries"``, the entry clock)."""
        return self._index.timing

    @property
    def samples_per_entry(self) -> int:
        """``samp_per_stream`` of the key."""
        return self.key.samp

    # --- construction helpers ---------------------------------------------------------------------------

    def _report_gaps(self, where: str) -> None:
        gaps = self._index.gaps
        if not gaps:
            return
        lost = sum(gap.missing_samples or 0 for gap in gaps)
        resets = sum(gap.kind == "reset" for gap in gaps)
        first = gaps[0]
        shape = (
            f"{self.get_num_segments()} segments"
            if self.get_num_segments() > 1
            else "one segment with explicit timestamps"
        )
        warnings.warn(
            f"{where}: the {self._index.timing} clock has {len(gaps) - resets} gap(s) ({lost} samples lost) and "
            f"{resets} reset(s); first at {first.previous_end_s:.6f} s (entry {first.entry_id}). Written as {shape}; "
            "see BrandRecordingExtractor.gaps.",
            stacklevel=3,
        )


class BrandRecordingSegment(BaseRecordingSegment):
    """One contiguous run of samples of a :class:`BrandRecordingExtractor` (or all samples with a time vector).

    Parameters
    ----------
    samples : ReadOnceRows
        The stream's samples, ``(all samples, chan)``, spooled by the indexing pass (each row leaves the spool
        after its first full read, and is decoded from the source again if read later).
    first_sample : int
        Index of the segment's first sample over all samples of the stream.
    num_samples : int
        Samples in the segment.
    sampling_frequency : float
        Samples per second.
    t_start : float or None
        Session time of the first sample (None with a time vector).
    time_vector : np.ndarray, optional
        Session time of every sample.
    """

    def __init__(
        self,
        samples: ReadOnceRows,
        first_sample: int,
        num_samples: int,
        sampling_frequency: float,
        t_start: float | None,
        time_vector: np.ndarray | None = None,
    ):
        if time_vector is not None:
            BaseRecordingSegment.__init__(self, time_vector=time_vector)
        else:
            BaseRecordingSegment.__init__(self, sampling_frequency=sampling_frequency, t_start=t_start)
        self._samples = samples
        self._first_sample = first_sample
        self._num_samples = num_samples

    def get_num_samples(self) -> int:
        """Samples in this segment."""
        return self._num_samples

    def spooled_rows(self) -> tuple[ReadOnceRows, int]:
        """The stream's spooled samples and the row of this segment's first sample in them.

        What writing the file reads chunk by chunk (:mod:`~neuroconv_brand.nwb.spooled_chunks`) instead of
        frames through :meth:`get_traces`.
        """
        return self._samples, self._first_sample

    def get_traces(
        self,
        start_frame: int | None = None,
        end_frame: int | None = None,
        channel_indices: list | np.ndarray | tuple | slice | None = None,
    ) -> np.ndarray:
        """Samples ``[start_frame, end_frame)`` of this segment, ``(time, channels)``.

        A read of every channel is the rows' last read from the spool (what writing the file does, once per row);
        a repeated read decodes the rows from the source again.
        """
        check_interrupted()
        start = 0 if start_frame is None else int(start_frame)
        stop = self._num_samples if end_frame is None else min(int(end_frame), self._num_samples)
        every_channel = _selects_every_channel(channel_indices, self._samples.spool.row_shape[0])
        traces = self._samples.read_rows(
            self._first_sample + start, self._first_sample + max(stop, start), release=every_channel
        )
        if every_channel:
            return traces
        return traces[:, channel_indices]


def _selects_every_channel(channel_indices, channels: int) -> bool:
    """Whether ``channel_indices`` (None, a slice or indices, as SpikeInterface passes them) is every channel in order."""
    if channel_indices is None:
        return True
    if isinstance(channel_indices, slice):
        return channel_indices.indices(channels) == (0, channels, 1)
    indices = np.asarray(channel_indices)
    return indices.shape == (channels,) and bool(np.all(indices == np.arange(channels)))


#: SpikeInterface's reader-function spelling of :class:`BrandRecordingExtractor` (as ``read_spikeglx`` and friends):
#: ``read_brand("session.rdb", "nsp_neural")``.
read_brand = define_function_from_class(source_class=BrandRecordingExtractor, name="read_brand")
