"""``type_nwb: TrialInfo`` streams: per-trial values as columns of the trials table."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from neuroconv.utils import DeepDict
from pynwb import NWBFile

from ..errors import GraphError
from ..graph.stream_specs import KeySpec
from ..mechanisms.trial_pairing import first_samples_in_intervals
from ..reading.stream_reader import StreamReader
from ..sources.entry_ids import EntryId
from ..timing.alignment import follow_alignment
from .base import BrandStreamInterface
from .trials import BrandTrialsInterface, trial_column_descriptions, trials_metadata_schema


def column_name(stream: str, key: str) -> str:
    """The trials column of a TrialInfo key, as exportNWB names it: ``<stream>_<key>``."""
    return f"{stream}_{key}"


def value_shape(key: KeySpec) -> tuple[int, ...]:
    """The shape of one entry's value in a trials column: scalar, ``(chan,)``, ``(samp,)`` or ``(samp, chan)``."""
    return tuple(size for size in (key.samp, key.chan) if size > 1)


def trial_column(values: np.ndarray, has_value: np.ndarray, key: KeySpec) -> tuple[np.ndarray, bool]:
    """The column of one key: the value of each trial that has one, a missing marker elsewhere.

    Parameters
    ----------
    values : np.ndarray
        The chosen entries' values, one per trial with ``has_value``: ``(m, samp, chan)`` numbers or ``(m,)``
        text.
    has_value : np.ndarray
        Bool per trial.
    key : KeySpec
        The key's definition.

    Returns
    -------
    column : np.ndarray
        Text keys: object array of str, ``""`` where missing. Numeric keys: the key's dtype when every trial
        has a value; else float (float32/64 keys keep theirs, others become float64) with NaN where missing.
    converted : bool
        True when a non-float key was turned into float64 to hold NaN.
    """
    n_trials = len(has_value)
    if key.is_text:
        column = np.full(n_trials, "", dtype=object)
        column[has_value] = values
        return column, False
    shape = value_shape(key)
    values = values.reshape(len(values), *shape)
    if has_value.all():
        return values, False
    floating = np.issubdtype(values.dtype, np.floating)
    column = np.full((n_trials, *shape), np.nan, dtype=values.dtype if floating else np.float64)
    column[has_value] = values
    return column, not floating


class BrandTrialInfoInterface(BrandStreamInterface):
    """Convert a BRAND ``TrialInfo`` stream into columns of the NWB trials table.

    One column per key with an ``nwb:`` block, named ``<stream>_<key>`` and described by the block's
    ``description``. A trial's value is the stream's first entry whose time lies in ``[start_time,
    stop_time]`` of the trial (both ends included); entries outside every trial are not written.

    Each entry serves at most one trial: trials take, in order, the earliest entry inside them that no earlier
    trial took. (When one trial ends and the next starts in the same millisecond, an entry written at that
    instant, such as the ending trial's ``trial_success``, lies in both; it goes to the earlier trial unless
    that trial already has an earlier entry.)

    Values: a scalar key gives a scalar column; a key with ``chan_per_stream > 1`` (and/or ``samp_per_stream
    > 1``) gives an array column of shape ``(n_trials, chan)`` (``(n_trials, samp, chan)``). A trial without an
    entry gets NaN (numbers) or ``""`` (text). Numeric columns keep the key's dtype (``bool`` stays bool) when
    every trial has a value; otherwise integer and bool keys become float64 to hold NaN (with a warning).

    Trials come from the NWB file's trials table when it exists (the Trial interface ran first, as in
    ``BrandConverter``); otherwise this interface builds it from the session's Trial stream first, exactly as
    :class:`~neuroconv_brand.interfaces.trials.BrandTrialsInterface` does. Entry times and trial times must
    be on the same clock: align the Trial and TrialInfo interfaces together.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The TrialInfo stream to convert.
    brand_base_dir : str, optional
        The BRAND base directory (for graphs whose supergraph has no compiled stream definitions).
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries (and the trials, when this interface builds them).
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or drop them with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    trial_stream_name : str, optional
        The Trial stream that defines the trials when the NWB file has none yet; default: the graph's only
        enabled Trial stream.
    verbose : bool
        Print progress.
    """

    display_name = "BRAND TrialInfo stream"
    info = "A BRAND Redis stream whose node YAML says type_nwb: TrialInfo (one entry of values per trial)."
    type_nwb = "TrialInfo"

    def __init__(
        self,
        file_path: str | Path,
        stream_name: str,
        brand_base_dir: str | Path | None = None,
        derivative: str | None = None,
        clock: Literal["sync", "monotonic", "redis"] = "sync",
        on_bad_entry: Literal["raise", "skip"] = "raise",
        redis_server_path: str | Path | None = None,
        trial_stream_name: str | None = None,
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
        self.source_data["trial_stream_name"] = trial_stream_name
        if trial_stream_name is not None:
            spec = self.graph.get_stream(trial_stream_name)
            if spec.type_nwb != "Trial":
                raise GraphError(
                    f"trial_stream_name '{trial_stream_name}' has type_nwb {spec.type_nwb!r}, not Trial; name the "
                    "stream that holds the task's trial states"
                )
        self._trial_stream_name = trial_stream_name
        self._trials_interface: BrandTrialsInterface | None = None
        self._follows_trials = False

    def follow_trials(self, interface: BrandTrialsInterface) -> None:
        """Use ``interface`` (the converter's Trial interface) for the trials, and follow its time alignment.

        Aligning the Trial stream then moves this stream's entries the same way (see :meth:`get_timestamps`), so
        each value stays with the trial it belonged to.
        """
        if self._trial_stream_name is not None and interface.spec.name != self._trial_stream_name:
            raise GraphError(
                f"stream '{self.spec.name}' belongs to Trial stream '{self._trial_stream_name}', not "
                f"'{interface.spec.name}'."
            )
        self._trial_stream_name = interface.spec.name
        self._trials_interface = interface
        self._follows_trials = True

    @property
    def alignment_leader(self) -> BrandStreamInterface | None:
        """The followed Trial interface while this stream has no alignment of its own."""
        return self._trials_interface if self._follows_trials and self._aligned_timestamps is None else None

    def get_timestamps(self) -> np.ndarray:
        """Entry times after alignment: this stream's own, else the followed Trial stream's carried over."""
        leader = self.alignment_leader
        if leader is None or leader._aligned_timestamps is None:
            return super().get_timestamps()
        return follow_alignment(self.entry_times.seconds, leader.entry_times.seconds, leader.get_timestamps())

    @property
    def trial_stream_name(self) -> str:
        """The Trial stream whose trials this stream's values belong to."""
        if self._trial_stream_name is None:
            present = set(self.session.source.stream_names())
            trial_streams = [
                n for n, s in self.graph.streams.items() if s.type_nwb == "Trial" and n in present
            ]
            enabled = [n for n in trial_streams if self.graph.streams[n].enabled]
            candidates = enabled or trial_streams
            if len(candidates) != 1:
                found = ", ".join(candidates) if candidates else "none in the source"
                raise GraphError(
                    f"stream '{self.spec.name}' (TrialInfo) needs trials, and the NWB file has no trials table; "
                    f"the session's Trial streams: {found}. Pass trial_stream_name, or add the Trial interface "
                    "first."
                )
            self._trial_stream_name = candidates[0]
        return self._trial_stream_name

    @property
    def trials_interface(self) -> BrandTrialsInterface:
        """The Trial interface that builds the trials table when the NWB file has none (same source and clock)."""
        if self._trials_interface is None:
            options = {
                k: v for k, v in self.source_data.items() if k not in ("stream_name", "trial_stream_name")
            }
            self._trials_interface = BrandTrialsInterface(stream_name=self.trial_stream_name, **options)
        return self._trials_interface

    def get_metadata(self) -> DeepDict:
        """Session metadata plus this stream's column descriptions (``metadata["TrialColumns"]``).

        When a Trial stream can be found, its table (``metadata["TimeIntervals"]["trials"]``) and column
        descriptions are included too, so a standalone conversion can edit them.
        """
        metadata = super().get_metadata()
        try:
            trials_metadata = self.trials_interface.get_metadata()
        except GraphError:
            trials_metadata = {}
        if "trials" in trials_metadata.get("TimeIntervals", {}):
            metadata["TimeIntervals"]["trials"] = trials_metadata["TimeIntervals"]["trials"]
        metadata["TrialColumns"] = {
            **trials_metadata.get("TrialColumns", {}),
            **{
                column_name(self.spec.name, name): self._description(key)
                for name, key in self.info_keys.items()
            },
        }
        return metadata

    def get_metadata_schema(self) -> dict:
        """The base schema plus the ``TimeIntervals`` and ``TrialColumns`` blocks."""
        schema = super().get_metadata_schema()
        schema["properties"].update(trials_metadata_schema())
        return schema

    @property
    def info_keys(self) -> dict[str, KeySpec]:
        """The keys written as trials columns (those with an ``nwb:`` block)."""
        return self.spec.exported_keys

    def _description(self, key: KeySpec) -> str:
        text = (key.nwb or {}).get("description")
        if text:
            return str(text)
        return f"Key '{key.name}' of BRAND stream '{self.spec.name}': its first entry inside the trial."

    def trial_values(self, starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Per trial ``[start, stop]``, the index of the first entry inside it (-1: none) and each key's values.

        Returns
        -------
        first : np.ndarray
            int64 entry index per trial, -1 where no entry lies inside the trial.
        values : dict
            Per key, the values of the entries ``first[first >= 0]`` in trial order.
        """
        first = first_samples_in_intervals(self.get_timestamps(), starts, stops)
        wanted = np.unique(first[first >= 0])
        chosen = self._read_entries(wanted)
        positions = np.searchsorted(wanted, first[first >= 0])
        return first, {name: data[positions] for name, data in chosen.items()}

    def _read_entries(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """The exported keys' values of the entries at ``indices`` (sorted), reading only their id range."""
        if len(indices) == 0:
            return {name: self._empty(key) for name, key in self.info_keys.items()}
        ids = self.timeline.ids
        first_id, last_id = (EntryId(*map(int, ids[i])) for i in (indices[0], indices[-1]))
        reader = StreamReader(
            self.session.source, self.spec, keys=list(self.info_keys), on_bad_entry=self.on_bad_entry
        )
        parts: dict[str, list[np.ndarray]] = {name: [] for name in self.info_keys}
        offset = int(indices[0])
        for batch in reader.iter_batches(first_id, last_id):
            local = indices[(indices >= offset) & (indices < offset + len(batch))] - offset
            for name in self.info_keys:
                parts[name].append(batch.data[name][local])
            offset += len(batch)
        return {name: np.concatenate(chunks) for name, chunks in parts.items()}

    @staticmethod
    def _empty(key: KeySpec) -> np.ndarray:
        if key.is_text:
            return np.zeros(0, dtype=object)
        return np.zeros((0, key.samp, key.chan), dtype=key.numpy_dtype.newbyteorder("="))

    def add_to_nwbfile(
        self, nwbfile: NWBFile, metadata: dict | None = None, *, stub_test: bool = False
    ) -> None:
        """Add one trials column per exported key (building the trials table first when there is none).

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited (``TrialColumns`` descriptions).
        stub_test : bool
            Accepted for symmetry with the other interfaces; TrialInfo streams are small and always written whole.
        """
        metadata = metadata if metadata is not None else self.get_metadata()
        if nwbfile.trials is None:
            self.trials_interface.add_to_nwbfile(nwbfile, metadata)
        table = nwbfile.trials
        if table is None:
            warnings.warn(
                f"stream '{self.spec.name}': there are no trials, so no TrialInfo column was written.",
                stacklevel=2,
            )
            return
        columns = {column_name(self.spec.name, name): key for name, key in self.info_keys.items()}
        clashes = sorted(set(columns) & set(table.colnames))
        if clashes:
            raise GraphError(
                f"stream '{self.spec.name}': the trials table already has column(s) {clashes}; was this TrialInfo "
                "stream added twice?"
            )
        starts = np.asarray(table["start_time"].data[:], dtype=np.float64)
        stops = np.asarray(table["stop_time"].data[:], dtype=np.float64)
        first, values = self.trial_values(starts, stops)
        has_value = first >= 0
        descriptions = trial_column_descriptions(metadata)
        converted = []
        for column, key in columns.items():
            data, as_float = trial_column(values[key.name], has_value, key)
            if as_float:
                converted.append(f"{key.name} ({key.dtype})")
            table.add_column(
                name=column, description=descriptions.get(column) or self._description(key), data=data
            )
        missing = int((~has_value).sum())
        if missing:
            note = f"; {', '.join(converted)} written as float64 to hold NaN" if converted else ""
            warnings.warn(
                f"stream '{self.spec.name}': {missing} of {len(first)} trials hold no entry of this stream; their "
                f"values are NaN (numbers) or '' (text){note}.",
                stacklevel=2,
            )
