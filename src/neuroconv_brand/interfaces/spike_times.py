"""``type_nwb: SpikeTimes`` streams: threshold crossings as an NWB units table, one unit per channel."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from hdmf.common import DynamicTableRegion, VectorData, VectorIndex
from hdmf.container import Data
from pynwb import NWBFile
from pynwb.ecephys import ElectrodesTable
from pynwb.misc import Units

from ..errors import GraphError
from ..graph.stream_specs import KeySpec
from ..mechanisms.crossings import crossing_times, crossings_key, find_crossings
from ..participant.electrode_map import ChannelElectrodes, map_channels_to_electrodes
from ..reading.stream_spool import session_spool
from ..timing.clocks import sample_rate
from .base import STUB_ENTRIES, BrandStreamInterface
from .iterators import SpooledColumnIterator

#: Entries converted per stream with ``stub_test=True``.
UNITS_DESCRIPTION = (
    "Unsorted threshold crossings of BRAND SpikeTimes streams: one unit per channel (multi-unit activity). "
    "Column 'stream' names the source stream, 'channel' the channel within it."
)
#: Bytes of crossings read per block when extracting spike times.
SPIKE_BLOCK_BYTES = 16_000_000
PLACEHOLDER_DEVICE = "BRAND NSP (placeholder)"
PLACEHOLDER_GROUP = "unknown array (placeholder)"
#: Units columns this interface writes, besides ``spike_times`` and ``id``.
_UNIT_COLUMNS = ("obs_intervals", "electrodes", "electrode_group", "stream", "channel")


class BrandSpikeTimesInterface(BrandStreamInterface):
    """Convert a BRAND ``SpikeTimes`` stream (threshold crossings) into units, one per channel.

    The crossings key is the one named by ``nwb: {crossings: <key>}``; its payload is ``(samp, chan)`` 0/1
    values per entry. A unit's spike times are the session times (seconds since ``session_start_time``) of the
    samples whose value is not 0. That is the stream's entry clock (``clock``): thresholdExtraction ORs the
    crossings of the 30 samples of a 1 ms packet into one value and stamps the entry (its ``timestamps`` field
    and sync label) with the packet's first sample, so no finer time exists in the stream. When an entry
    carries several samples (``samp_per_stream > 1``), sample ``k`` is placed at ``entry time + k / (entry rate *
    samp)``. The units table's ``resolution`` is that sample spacing.

    Each unit links to its electrode row (see :mod:`neuroconv_brand.participant.electrode_map` for how a stream's channels
    are mapped, e.g. ``thresh_cross_2`` covering array 2) and carries ``obs_intervals`` ``[[first, last]]`` entry
    times, ``stream`` and ``channel``. Electrodes must exist first: in a converter, the participant interface
    (:class:`~neuroconv_brand.interfaces.participant.BrandParticipantInterface`) runs before this one. Alone,
    with no electrodes table in the file, this interface creates placeholder electrodes (one group
    "unknown array (placeholder)", location "unknown") with a warning.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The SpikeTimes stream to convert (e.g. ``thresh_cross`` or ``thresh_cross_2``).
    brand_base_dir : str, optional
        The BRAND base directory (for graphs whose supergraph has no compiled stream definitions).
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries.
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or drop them with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    electrode_offset : int, optional
        Electrode row of the stream's channel 0, when the graph does not tell which electrodes it covers.
    electrodes : list of int, optional
        Electrode row of every channel (overrides ``electrode_offset``).
    verbose : bool
        Print progress.
    """

    display_name = "BRAND SpikeTimes stream"
    info = "A BRAND Redis stream whose node YAML says type_nwb: SpikeTimes (threshold crossings)."
    type_nwb = "SpikeTimes"
    spools_data = True

    def __init__(
        self,
        file_path: str | Path,
        stream_name: str,
        brand_base_dir: str | Path | None = None,
        derivative: str | None = None,
        clock: Literal["sync", "monotonic", "redis"] = "sync",
        on_bad_entry: Literal["raise", "skip"] = "raise",
        redis_server_path: str | Path | None = None,
        electrode_offset: int | None = None,
        electrodes: list[int] | None = None,
        verbose: bool = False,
    ):
        super().__init__(
            file_path=file_path,
            stream_name=stream_name,
            brand_base_dir=brand_base_dir,
            derivative=derivative,
            clock=clock,
            on_bad_entry=on_bad_entry,
            redis_server_path=redis_server_path,
            verbose=verbose,
        )
        self.source_data.update(electrode_offset=electrode_offset, electrodes=electrodes)
        self.crossings: KeySpec = crossings_key(self.spec)
        self.electrode_offset = electrode_offset
        self.electrodes = list(electrodes) if electrodes is not None else None
        # Fail early on explicit options that do not fit (the table size is checked when writing).
        self.channel_electrodes(None)

    def channel_electrodes(self, n_electrodes: int | None) -> ChannelElectrodes:
        """Electrode rows of the stream's channels for an electrodes table of ``n_electrodes`` rows."""
        return map_channels_to_electrodes(
            self.graph, self.spec.name, n_electrodes, self.electrode_offset, self.electrodes
        )

    @property
    def sample_rate(self) -> float | None:
        """Crossing samples per second (entry rate x samples per entry), None for fewer than 2 entries."""
        return sample_rate(self.entry_times.seconds, self.spec.rate, self.crossings.samp)

    def read_spike_times(self, stub_test: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Spike times of every channel: a flat float64 array grouped by channel, and the count per channel.

        The crossings come from the stream's pass in blocks, read twice: once to count each channel's spikes,
        once to put every spike time straight into its place, so memory holds the result and one block only.
        """
        entry_seconds = self.get_timestamps()
        limit = min(len(entry_seconds), STUB_ENTRIES) if stub_test else len(entry_seconds)
        samp, n_channels = self.crossings.samp, self.crossings.chan
        rate = self.sample_rate
        spooled = self.stream_pass.keys[self.crossings.name]
        block_entries = max(1, SPIKE_BLOCK_BYTES // max(self.crossings.entry_nbytes, 1))
        blocks = [(first, min(block_entries, limit - first)) for first in range(0, limit, block_entries)]

        def crossings(first: int, count: int) -> np.ndarray:  # (entry, sample, channel) block
            rows = spooled.read_rows(first * samp, (first + count) * samp)
            return rows.reshape(count, samp, n_channels)

        counts = np.zeros(n_channels, dtype=np.int64)
        for first, count in blocks:
            counts += np.count_nonzero(crossings(first, count), axis=(0, 1))
        spike_times = np.empty(int(counts.sum()), dtype=np.float64)
        filled = np.cumsum(counts) - counts  # next free position of each channel
        for first, count in blocks:
            entry, sample, channel = find_crossings(crossings(first, count))  # in time order
            # Grouped by channel, time order kept: a stable radix sort (twice as fast as nonzero on a transpose).
            order = np.argsort(channel.astype(np.min_scalar_type(n_channels)), kind="stable")
            entry, sample, channel = entry[order], sample[order], channel[order]
            per_channel = np.bincount(channel, minlength=n_channels)
            run_start = np.cumsum(per_channel) - per_channel
            positions = filled[channel] + np.arange(len(channel)) - run_start[channel]
            spike_times[positions] = crossing_times(entry_seconds, first + entry, sample, rate)
            filled += per_channel
        return spike_times, counts

    def add_to_nwbfile(
        self,
        nwbfile: NWBFile,
        metadata: dict | None = None,
        *,
        stub_test: bool = False,
        units_description: str = UNITS_DESCRIPTION,
    ) -> None:
        """Add one unit per channel to ``nwbfile.units`` (created if needed, else extended).

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata` (not used for the units themselves).
        stub_test : bool
            Convert only the first entries (a quick check of a large session).
        units_description : str
            Description of the units table, when this interface creates it.
        """
        n_entries = min(self.entry_count, STUB_ENTRIES) if stub_test else self.entry_count
        if n_entries == 0:
            warnings.warn(f"stream '{self.spec.name}' has no entries; no units written.", stacklevel=2)
            return
        n_electrodes = len(nwbfile.electrodes) if nwbfile.electrodes is not None else 0
        placeholder = n_electrodes == 0 or _is_placeholder_table(nwbfile)
        mapping = self.channel_electrodes(None if placeholder else n_electrodes)
        if placeholder:
            _ensure_placeholder_electrodes(nwbfile, int(mapping.rows.max()) + 1, self.spec.name)
        spike_times, counts = self.read_spike_times(stub_test)
        # On disk until written: a long session has tens of millions of spike times.
        spike_times = SpooledColumnIterator(
            session_spool(self.session).spool_column(spike_times, f"stream '{self.spec.name}' spike times")
        )
        entry_seconds = self.get_timestamps()[:n_entries]
        n_units = len(counts)
        group_column = nwbfile.electrodes["group"].data
        columns = {
            "spike_times": (spike_times, np.cumsum(counts)),
            "obs_intervals": (
                np.tile([entry_seconds[0], entry_seconds[-1]], (n_units, 1)),
                np.arange(1, n_units + 1),
            ),
            "electrodes": (mapping.rows, np.arange(1, n_units + 1)),
            "electrode_group": [group_column[row] for row in mapping.rows.tolist()],
            "stream": [self.spec.name] * n_units,
            "channel": np.arange(n_units),
        }
        resolution = 1.0 / self.sample_rate if self.sample_rate else None
        _add_units(nwbfile, columns, units_description, resolution, self.spec.name)


def _is_placeholder_table(nwbfile: NWBFile) -> bool:
    table = nwbfile.electrodes
    if table is None or len(table) == 0 or "group_name" not in table.colnames:
        return False
    return set(np.asarray(nwbfile.electrodes["group_name"].data[:]).tolist()) == {PLACEHOLDER_GROUP}


def _ensure_placeholder_electrodes(nwbfile: NWBFile, n_needed: int, stream: str) -> None:
    """Electrodes of an unknown array, for a file converted without participant metadata."""
    existing = len(nwbfile.electrodes) if nwbfile.electrodes is not None else 0
    if existing >= n_needed:
        return
    warnings.warn(
        f"stream '{stream}': the file has no electrodes from a participant file; created placeholder electrodes "
        f"(group '{PLACEHOLDER_GROUP}', location 'unknown') up to row {n_needed - 1}. Convert with "
        "BrandParticipantInterface first for real electrode metadata.",
        stacklevel=3,
    )
    if PLACEHOLDER_GROUP in nwbfile.electrode_groups:
        group = nwbfile.electrode_groups[PLACEHOLDER_GROUP]
    else:
        device = nwbfile.devices.get(PLACEHOLDER_DEVICE) or nwbfile.create_device(
            name=PLACEHOLDER_DEVICE,
            description="Recording device not described: no participant/devices file was converted.",
        )
        group = nwbfile.create_electrode_group(
            name=PLACEHOLDER_GROUP,
            description="Electrodes of a BRAND session converted without participant metadata.",
            location="unknown",
            device=device,
        )
    added = n_needed - existing
    values = {
        "location": ["unknown"] * added,
        "group": [group] * added,
        "group_name": [PLACEHOLDER_GROUP] * added,
    }
    if existing == 0:
        nwbfile.electrodes = ElectrodesTable(
            id=np.arange(added),
            columns=[VectorData(name=name, description=name, data=data) for name, data in values.items()],
        )
    else:
        table = nwbfile.electrodes
        Data.extend(table.id, np.arange(existing, n_needed))
        for name, data in values.items():
            Data.extend(table[name], data)


def _add_units(
    nwbfile: NWBFile, columns: dict, description: str, resolution: float | None, stream: str
) -> None:
    """Create ``nwbfile.units`` from whole columns, or append the columns to the existing table."""
    units = nwbfile.units
    n_units = len(columns["stream"])
    if units is None:
        spike_data = VectorData(
            name="spike_times",
            description="the spike times for each unit in seconds",
            data=columns["spike_times"][0],
        )
        obs_data = VectorData(
            name="obs_intervals",
            description="the observation intervals for each unit",
            data=columns["obs_intervals"][0],
        )
        electrode_data = DynamicTableRegion(
            name="electrodes",
            description="the electrode each unit came from",
            data=columns["electrodes"][0],
            table=nwbfile.electrodes,
        )
        # The index before its target: hdmf drops iterator columns from its length check as it meets them.
        table_columns = [
            VectorIndex(
                name="spike_times_index", data=columns["spike_times"][1].astype(np.uint64), target=spike_data
            ),
            spike_data,
            obs_data,
            VectorIndex(
                name="obs_intervals_index",
                data=columns["obs_intervals"][1].astype(np.uint64),
                target=obs_data,
            ),
            electrode_data,
            VectorIndex(
                name="electrodes_index",
                data=columns["electrodes"][1].astype(np.uint64),
                target=electrode_data,
            ),
            VectorData(
                name="electrode_group",
                description="the electrode group that each unit came from",
                data=columns["electrode_group"],
            ),
            VectorData(
                name="stream",
                description="name of the BRAND stream providing the threshold crossings",
                data=columns["stream"],
            ),
            VectorData(
                name="channel",
                description="channel index within the stream's crossings key",
                data=columns["channel"],
            ),
        ]
        kwargs = dict(resolution=resolution) if resolution else {}
        nwbfile.units = Units(
            name="units", description=description, id=np.arange(n_units), columns=table_columns, **kwargs
        )
        return
    missing = [name for name in ("spike_times", *_UNIT_COLUMNS) if name not in units.colnames]
    if missing:
        raise GraphError(
            f"stream '{stream}': the file's units table lacks column(s) {missing} (it was not written by a BRAND "
            "SpikeTimes interface); write threshold crossings to a separate file or convert them first."
        )
    if resolution and units.resolution and not np.isclose(units.resolution, resolution):
        warnings.warn(
            f"stream '{stream}' has spike-time resolution {resolution} s but the units table says {units.resolution} s.",
            stacklevel=3,
        )
    existing = len(units)
    Data.extend(units.id, np.arange(existing, existing + n_units))
    for name in ("spike_times", "obs_intervals", "electrodes"):
        index = units[f"{name}_index"]
        flat, ends = columns[name]
        Data.extend(index, (ends + len(index.target)).astype(np.uint64))
        if isinstance(index.target.data, SpooledColumnIterator):
            # Append to the first stream's spool file; a new iterator sees the longer column.
            index.target.data.spooled.append(flat[:])
            index.target.transform(lambda column: SpooledColumnIterator(column.spooled))
        else:
            Data.extend(index.target, flat)
    for name in ("electrode_group", "stream", "channel"):
        Data.extend(units[name], columns[name])
