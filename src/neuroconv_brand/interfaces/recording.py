"""Continuous neural data of a BRAND stream (``nsp_neural``, ``continuousNeural``, filtered streams) as NWB.

:class:`BrandRecordingInterface` is NeuroConv's ``BaseRecordingExtractorInterface`` over
:class:`~neuroconv_brand.extractors.recording_extractor.BrandRecordingExtractor`: raw streams become an ``ElectricalSeries`` in
``acquisition``, other streams one in ``processing/ecephys`` (``FilteredEphys``), linked to the electrodes
table that the participant metadata wrote (see :func:`link_to_electrodes`).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

import numpy as np
from neuroconv.datainterfaces.ecephys.baserecordingextractorinterface import BaseRecordingExtractorInterface
from neuroconv.utils import DeepDict
from pydantic import validate_call
from pynwb import NWBFile
from spikeinterface.core import BaseRecording

from ..extractors.raw_stream_plan import RecordingConfigurationError
from ..extractors.recording_extractor import BrandRecordingExtractor
from ..graph.acquisition import is_acquisition_stream
from ..nwb.zarr_references import JsonZarrReferencesMixin
from ..timing.clocks import session_start_datetime
from .series_comments import series_comments

ParentContainer = Literal["auto", "acquisition", "processing/FilteredEphys", "processing/LFP"]

#: Read buffers of about 250 MB: with 256 channels NeuroConv's splitter then keeps every channel in a buffer.
#: About 40 MB per buffer: for 256 channels at 30 kHz, one row of NeuroConv's 10 MB chunks across all channels.
#: Larger buffers only touch more new memory (0.25 GB measured 0.2-0.5 s slower per minute of data).
DEFAULT_ITERATOR_OPTIONS = {"buffer_gb": 0.04}
#: Gaps listed one by one in the series' comments (the rest are counted).
_MAX_LISTED_GAPS = 100


def link_to_electrodes(
    recording: BaseRecording, nwbfile: NWBFile, default_group_name: str, where: str
) -> None:
    """Set the ``group_name``/``channel_name`` properties that make NeuroConv reuse the file's electrode rows.

    The rule: channel ids are electrode numbers; electrode ``e`` is the electrodes-table row whose
    ``channel_name`` is ``str(e)`` when the table numbers its electrodes that way (unique names), else row
    ``e`` (the participant's implants in order, each with its ``electrode_qty`` rows). NeuroConv matches rows by
    ``(group_name, channel_name)``, so copying both from the row links the series to it without adding rows. A
    table without a ``channel_name`` column gets one (the row ids as text), as NeuroConv itself does.
    Without an electrodes table the recording brings its own rows, in one group named ``default_group_name``.

    Raises
    ------
    RecordingConfigurationError
        When a channel's electrode number has no row.
    """
    electrodes = np.asarray(recording.get_channel_ids()).astype(np.int64)
    table = nwbfile.electrodes
    if table is None or len(table) == 0:
        recording.set_property("group_name", np.full(len(electrodes), default_group_name))
        recording.set_property("channel_name", electrodes.astype(str))
        return
    if "channel_name" not in table.colnames:
        nwbfile.add_electrode_column(
            name="channel_name",
            description="unique channel reference (the electrode's row id)",
            data=[str(i) for i in table.id.data[:]],
        )
    names = np.asarray(table["channel_name"].data[:]).astype(str)
    by_name = {name: row for row, name in enumerate(names)}
    wanted = electrodes.astype(str)
    if len(by_name) == len(names) and all(name in by_name for name in wanted):
        rows = np.array([by_name[name] for name in wanted], dtype=np.int64)
    else:
        beyond = electrodes[electrodes >= len(table)]
        if len(beyond):
            raise RecordingConfigurationError(
                f"{where}: channels map to electrode(s) {beyond[:5].tolist()} but the electrodes table has "
                f"{len(table)} rows. Check the participant YAML (implants, device electrode_qty) or the channel_map."
            )
        rows = electrodes
    if "group_name" in table.colnames:
        groups = np.asarray(table["group_name"].data[:]).astype(str)[rows]
    else:
        groups = np.array([table["group"][int(row)].name for row in rows])
    recording.set_property("group_name", groups)
    recording.set_property("channel_name", names[rows])


class BrandRecordingInterface(JsonZarrReferencesMixin, BaseRecordingExtractorInterface):
    """Continuous neural data of one BRAND stream key as an NWB ``ElectricalSeries``.

    Samples are written as stored (int16 counts or float32) with ``conversion`` = gain (from the unit, e.g.
    ``0.25uV``) in volts. Dropped packets and clock restarts split the recording into segments, each written as
    its own ``ElectricalSeries`` (``<name>_segment<k>``) with ``starting_time`` and ``rate``, and are listed in the
    file's ``invalid_times``.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The stream, e.g. ``"nsp_neural"`` (cerebusAdapterGem) or ``"continuousNeural"`` (Stavisky lab).
    key : str
        The field holding the samples.
    sampling_frequency : float, optional
        Samples per second; default the graph's entry ``rate`` x ``samp_per_stream``, else the ``samp_freq``
        parameter of an acquisition node.
    gain_to_uv : float, optional
        Microvolts per stored unit; default from the key's ``nwb: unit`` (``"0.25uV"`` -> 0.25).
    offset_to_uv : float
        Microvolts added after the gain.
    channel_map : list of int or str, optional
        Electrode number (0-based row of the electrodes table) of each channel in stream order, or a JSON file
        with such a list or ``{"electrode_mapping": [1-based numbers]}``. Default: channel c is electrode c.
    timing : {"auto", "nsp", "entries"}
        Per-sample times from the stream's NSP clock field (``"nsp"``), from the entry clock (``"entries"``), or
        ``"nsp"`` when the entries carry the clock field (``"auto"``).
    timestamps_key : str
        The field with the NSP clock.
    timestamps_rate : float, optional
        Ticks per second of the NSP clock; default the sampling frequency.
    gaps : {"segments", "timestamps"}
        One segment (series) per contiguous run, or one series with explicit timestamps (8 bytes per sample).
    clock : {"sync", "monotonic", "redis"}
        The entry clock for ``timing="entries"``.
    brand_base_dir : str, optional
        The BRAND base directory, for graphs whose supergraph has no compiled stream definitions.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or leave them out (a gap) with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server.
    read_workers : int, optional
        Processes that read the stream side by side (default ``$NEUROCONV_BRAND_READ_WORKERS``, else the usable
        CPUs, at most 4).
    verbose : bool
        Print progress.
    metadata_key : str, optional
        Key of this series in ``metadata["Ecephys"]["ElectricalSeries"]``; default ``<stream>_<key>``.
    """

    display_name = "BRAND continuous neural data"
    keywords = ("BRAND", "brain-computer interface", "Redis", "extracellular electrophysiology", "voltage")
    associated_suffixes = (".rdb",)
    info = "Broadband or filtered neural data of a BRAND stream (e.g. nsp_neural) as an NWB ElectricalSeries."

    @classmethod
    def get_extractor_class(cls) -> type[BrandRecordingExtractor]:
        """The SpikeInterface extractor this interface wraps."""
        return BrandRecordingExtractor

    @validate_call
    def __init__(
        self,
        file_path: str | Path,
        stream_name: str,
        key: str = "samples",
        sampling_frequency: float | None = None,
        gain_to_uv: float | None = None,
        offset_to_uv: float = 0.0,
        channel_map: list[int] | str | Path | None = None,
        timing: Literal["auto", "nsp", "entries"] = "auto",
        timestamps_key: str = "timestamps",
        timestamps_rate: float | None = None,
        gaps: Literal["segments", "timestamps"] = "segments",
        clock: Literal["sync", "monotonic", "redis"] = "sync",
        brand_base_dir: str | Path | None = None,
        derivative: str | None = None,
        on_bad_entry: Literal["raise", "skip"] = "raise",
        redis_server_path: str | Path | None = None,
        read_workers: int | None = None,
        verbose: bool = False,
        metadata_key: str | None = None,
    ):
        super().__init__(
            verbose=verbose,
            metadata_key=metadata_key or f"{stream_name}_{key}",
            file_path=file_path,
            stream_name=stream_name,
            key=key,
            sampling_frequency=sampling_frequency,
            gain_to_uv=gain_to_uv,
            offset_to_uv=offset_to_uv,
            channel_map=channel_map,
            timing=timing,
            timestamps_key=timestamps_key,
            timestamps_rate=timestamps_rate,
            gaps=gaps,
            clock=clock,
            brand_base_dir=brand_base_dir,
            derivative=derivative,
            on_bad_entry=on_bad_entry,
            redis_server_path=redis_server_path,
            read_workers=read_workers,
        )
        self.brand_recording: BrandRecordingExtractor = self.recording_extractor

    @property
    def series_name(self) -> str:
        """The NWB name of the series (``<stream>_<key>``; ``_segment<k>`` is appended per segment)."""
        recording = self.brand_recording
        return f"{recording.spec.name}_{recording.key.name}"

    @property
    def session_start_ms(self) -> int:
        """``session_start_time`` in Unix milliseconds, the session clock every BRAND interface shares."""
        return self.brand_recording.session_start_ms

    @property
    def default_parent_container(self) -> str:
        """``acquisition`` for raw streams of an acquisition node, else ``processing/FilteredEphys``."""
        recording = self.brand_recording
        return (
            "acquisition"
            if is_acquisition_stream(recording.graph, recording.spec)
            else "processing/FilteredEphys"
        )

    def get_metadata(self, *, use_new_metadata_format: bool = True) -> DeepDict:
        """Session metadata (start time from the Redis ids) and the series' name, description and comments."""
        metadata = super().get_metadata(use_new_metadata_format=use_new_metadata_format)
        recording = self.brand_recording
        metadata["NWBFile"]["session_start_time"] = session_start_datetime(self.session_start_ms)
        metadata["NWBFile"]["session_description"] = recording.graph.description or "BRAND session"
        metadata["NWBFile"].setdefault("identifier", str(uuid.uuid4()))
        if recording.graph.graph_name:
            metadata["NWBFile"]["session_id"] = recording.graph.graph_name
        series = dict(
            name=self.series_name + ("_segment" if recording.get_num_segments() > 1 else ""),
            description=self._description(),
            comments=self._comments(),
        )
        if use_new_metadata_format:
            metadata["Ecephys"]["ElectricalSeries"][self.metadata_key] = series
        else:
            metadata["Ecephys"][self.es_key] = series
        return metadata

    def _description(self) -> str:
        recording = self.brand_recording
        nwb = recording.key.nwb or {}
        text = str(nwb.get("description") or "Continuous neural data")
        return f"{text} (BRAND stream '{recording.spec.name}', key '{recording.key.name}')."

    def _comments(self) -> str:
        recording = self.brand_recording
        gaps = recording.gaps
        listed = [
            f"{gap.kind} at sample {gap.sample_index} (entry {gap.entry_id}): {gap.missing_samples} samples missing "
            f"between {gap.previous_end_s:.6f} s and {gap.next_start_s:.6f} s"
            for gap in gaps[:_MAX_LISTED_GAPS]
        ]
        if len(gaps) > _MAX_LISTED_GAPS:
            listed.append(f"{len(gaps) - _MAX_LISTED_GAPS} more")
        return series_comments(
            recording.spec.name,
            recording.key.name,
            timing=recording.timing,
            sampling_frequency=f"{recording.get_sampling_frequency()} Hz",
            segments=recording.get_num_segments(),
            gaps=f"{len(gaps)} (also in invalid_times): " + ", ".join(listed) if gaps else None,
        )

    def add_to_nwbfile(
        self,
        nwbfile: NWBFile,
        metadata: dict | None = None,
        *,
        stub_test: bool = False,
        parent_container: ParentContainer = "auto",
        data_representation: Literal["digital_counts", "physical_units"] = "digital_counts",
        write_electrical_series: bool = True,
        iterator_type: str | None = "v2",
        iterator_options: dict | None = None,
        always_write_timestamps: bool = False,
        gaps_as_invalid_times: bool = True,
    ) -> None:
        """Add the electrodes link and the ``ElectricalSeries`` (one per segment) to ``nwbfile``.

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built. Add the participant's electrodes table first so the series links to it.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited.
        stub_test : bool
            Write only the first 100 samples of each segment.
        parent_container : {"auto", "acquisition", "processing/FilteredEphys", "processing/LFP"}
            Where the series goes; ``"auto"``: :attr:`default_parent_container`.
        data_representation : {"digital_counts", "physical_units"}
            Store the samples as recorded (with ``conversion``), or as float microvolts.
        write_electrical_series : bool
            False writes only the electrodes.
        iterator_type : {"v2", None}
            NeuroConv's chunked iterator, or everything in memory (small streams only).
        iterator_options : dict, optional
            NeuroConv iterator options (``buffer_gb``, ``buffer_shape``, ``display_progress``, ...); default
            ``buffer_gb=0.04``.
        always_write_timestamps : bool
            Write explicit timestamps even for regular segments.
        gaps_as_invalid_times : bool
            Add every gap between segments to ``nwbfile.invalid_times``.
        """
        recording = self.brand_recording
        where = f"stream '{recording.spec.name}', key '{recording.key.name}'"
        link_to_electrodes(self.recording_extractor, nwbfile, recording.spec.name, where)
        options = dict(iterator_options or {})
        if not {"buffer_gb", "buffer_shape"} & set(options):
            options.update(DEFAULT_ITERATOR_OPTIONS)
        super().add_to_nwbfile(
            nwbfile,
            metadata,
            stub_test=stub_test,
            parent_container=self.default_parent_container
            if parent_container == "auto"
            else parent_container,
            data_representation=data_representation,
            write_electrical_series=write_electrical_series,
            iterator_type=iterator_type,
            iterator_options=options if iterator_type == "v2" else iterator_options,
            always_write_timestamps=always_write_timestamps,
        )
        if gaps_as_invalid_times and write_electrical_series and not stub_test:
            self._add_invalid_times(nwbfile)

    def _add_invalid_times(self, nwbfile: NWBFile) -> None:
        recording = self.brand_recording
        period = 1.0 / recording.get_sampling_frequency()
        for gap in recording.gaps:
            start, stop = gap.previous_end_s + period, gap.next_start_s
            if stop - start > 0.5 * period:  # a restart without lost samples leaves no interval
                reason = "dropped samples" if gap.kind == "gap" else "clock reset"
                nwbfile.add_invalid_time_interval(
                    start_time=start, stop_time=stop, tags=[recording.spec.name, reason]
                )
