"""``type_nwb: Trial`` streams: the NWB trials table, from the task's state transitions."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from hdmf.common import VectorData
from neuroconv.utils import DeepDict
from pynwb import NWBFile
from pynwb.epoch import TimeIntervals

from ..errors import GraphError
from ..mechanisms.trial_definition import read_trial_definition
from ..mechanisms.trial_pairing import TrialPairing, first_event_between, pair_trials
from ..reading.stream_reader import EntryBatch, StreamReader
from .base import BrandStreamInterface

#: Entry ids named in a warning, at most.
_IDS_IN_MESSAGES = 3


@dataclass(frozen=True)
class ComputedTrials:
    """The trials of a Trial stream, in seconds since ``session_start_time``.

    Attributes
    ----------
    pairing : TrialPairing
        Start and end entry of each trial (state-stream indices) and the unpaired events.
    start_time, stop_time : np.ndarray
        float64 times of each trial's start and end entry.
    events : dict
        Per other indicator column: float64 time of its first entry inside each trial, NaN where none.
    start_values, stop_values : np.ndarray
        The state value that started and that ended each trial.
    """

    pairing: TrialPairing
    start_time: np.ndarray
    stop_time: np.ndarray
    events: dict[str, np.ndarray]
    start_values: np.ndarray
    stop_values: np.ndarray

    def __len__(self) -> int:
        return len(self.start_time)


def trials_metadata_schema() -> dict:
    """The ``TimeIntervals`` and ``TrialColumns`` metadata schemas of the Trial and TrialInfo interfaces.

    ``TimeIntervals`` follows NeuroConv: a ``table_name`` and ``table_description`` per table; ``TrialColumns``
    maps column names to descriptions.
    """
    table = {
        "type": "object",
        "properties": {"table_name": {"type": "string"}, "table_description": {"type": "string"}},
        "additionalProperties": False,
    }
    return {
        "TimeIntervals": {"type": "object", "additionalProperties": table},
        "TrialColumns": {"type": "object", "additionalProperties": {"type": "string"}},
    }


def trial_column_descriptions(metadata: dict) -> dict[str, str]:
    """The trials-column descriptions of ``metadata`` (``metadata["TrialColumns"]``)."""
    return dict(metadata.get("TrialColumns", {}))


#: How far apart (s) the start and stop times of another interface's trials table and a Trial stream's may be.
TRIAL_TIME_TOLERANCE_S = 1e-3


def describe_entries(ids: np.ndarray, indices: Sequence[int]) -> str:
    """``"1700000000119-0, 1700000000319-0 and 3 more"`` for warnings."""
    shown = [f"{int(ids[i, 0])}-{int(ids[i, 1])}" for i in list(indices)[:_IDS_IN_MESSAGES]]
    more = len(indices) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


class BrandTrialsInterface(BrandStreamInterface):
    """Convert a BRAND ``Trial`` stream into the NWB trials table.

    The stream holds one entry per task-state transition. The key named by ``trial_state`` in a key's
    ``nwb:`` block holds the state (default: that key itself; exportNWB hard-coded ``state``).
    ``start_trial_indicators`` / ``end_trial_indicators`` list the states that start and end a trial. A
    trial runs from a start entry to the next end entry, when no other start or end lies between them:

    - a start followed by another start before any end is skipped (warning with the count and entry ids);
    - an end without an open start is skipped (warning);
    - a last start without an end (the block stopped during a trial) is dropped (warning).

    Columns: ``start_time`` and ``stop_time`` (the entry times of the start and end entries), one time column
    per ``other_trial_indicators`` entry named after it (the first such entry between the trial's start and
    end entries, NaN when none; described by ``<indicator>_description``), and ``start_indicator`` /
    ``stop_indicator`` (the state value) when several start / end indicators are declared. All times are
    seconds since ``session_start_time`` on the interface's clock (after any alignment).

    An NWB file has one trials table, so a session converts at most one Trial stream: adding a second one to
    a file that already has trials is an error.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The Trial stream to convert.
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
    verbose : bool
        Print progress.
    """

    display_name = "BRAND Trial stream"
    info = "A BRAND Redis stream whose node YAML says type_nwb: Trial (task state transitions)."
    type_nwb = "Trial"

    def _prepare(self) -> None:
        self.definition = read_trial_definition(self.spec)  # a bad definition fails at construction
        self._states: np.ndarray | None = None

    def stream_pass_request(self) -> None:
        """None: the trial stream is read with its states (see ``_read_timeline``), not through a stream pass."""
        return None

    def _read_timeline(self, fresh: bool = False) -> EntryBatch:
        # The states are read in the timeline pass, so they always line up with the entry times.
        extra = list(self.spec.exported_keys) if self.on_bad_entry == "skip" else []
        keys = list(dict.fromkeys([self.definition.state_key, *extra]))
        batch = StreamReader(self.session.source, self.spec, keys=keys, on_bad_entry=self.on_bad_entry).read()
        states = batch.data.get(self.definition.state_key)
        if states is None:
            states = np.zeros(0, dtype=object)
        self._states = states if states.dtype == object else states.reshape(len(batch))
        return EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns)

    @property
    def states(self) -> np.ndarray:
        """The state of every entry (text as an object array, numbers as a 1-D array)."""
        if self._states is None or len(self._states) != len(self.timeline):
            self._read_timeline()
        return self._states

    def get_metadata(self) -> DeepDict:
        """Session metadata plus the trials table and its column descriptions.

        The table is ``metadata["TimeIntervals"]["trials"]`` (NeuroConv's keys), the descriptions are
        ``metadata["TrialColumns"]``.
        """
        metadata = super().get_metadata()
        d = self.definition
        starts, ends = self._indicator_text(d.start_indicators), self._indicator_text(d.end_indicators)
        metadata["TimeIntervals"]["trials"] = dict(
            table_name="trials",
            table_description=(
                f"Trials of the BRAND task: from a {starts} state to the next {ends} state of key "
                f"'{d.state_key}' in stream '{self.spec.name}'."
            ),
        )
        metadata["TrialColumns"] = self.default_column_descriptions()
        return metadata

    @staticmethod
    def _indicator_text(indicators: tuple) -> str:
        return ", ".join(f"'{v}'" for v in indicators)

    def default_column_descriptions(self) -> dict[str, str]:
        """The description of every column this interface writes, by column name."""
        d = self.definition
        starts, ends = self._indicator_text(d.start_indicators), self._indicator_text(d.end_indicators)
        columns = {
            "start_time": f"Time of the entry that started the trial (state {starts}).",
            "stop_time": f"Time of the entry that ended the trial (state {ends}).",
            **(d.descriptions or {}),
        }
        if len(d.start_indicators) > 1:
            columns["start_indicator"] = "The state value that started the trial."
        if len(d.end_indicators) > 1:
            columns["stop_indicator"] = "The state value that ended the trial."
        return columns

    def get_metadata_schema(self) -> dict:
        """The base schema plus the ``TimeIntervals`` and ``TrialColumns`` blocks."""
        schema = super().get_metadata_schema()
        schema["properties"].update(trials_metadata_schema())
        return schema

    def compute_trials(self) -> ComputedTrials:
        """Pair the stream's states into trials and time them (warns about events that form no trial)."""
        d = self.definition
        states = self.states
        pairing = pair_trials(np.isin(states, d.start_indicators), np.isin(states, d.end_indicators))
        self._warn_unpaired(pairing)
        times = self.get_timestamps()
        events = {}
        for indicator in d.other_indicators:
            first = first_event_between(np.flatnonzero(states == indicator), pairing.starts, pairing.stops)
            events[d.column_name(indicator)] = np.where(first >= 0, times[np.maximum(first, 0)], np.nan)
        trials = ComputedTrials(
            pairing=pairing,
            start_time=times[pairing.starts],
            stop_time=times[pairing.stops],
            events=events,
            start_values=states[pairing.starts],
            stop_values=states[pairing.stops],
        )
        backwards = int((trials.stop_time < trials.start_time).sum())
        if backwards:
            warnings.warn(
                f"stream '{self.spec.name}': {backwards} trial(s) end before they start on the {self.clock} clock "
                "(a clock reset inside a trial?); check the clock option.",
                stacklevel=2,
            )
        return trials

    def _warn_unpaired(self, pairing: TrialPairing) -> None:
        ids, stream = self.timeline.ids, self.spec.name
        if len(pairing.superseded_starts):
            warnings.warn(
                f"stream '{stream}': {len(pairing.superseded_starts)} trial start(s) followed by another start "
                f"before any end (entries {describe_entries(ids, pairing.superseded_starts)}); these starts form "
                "no trial and were skipped.",
                stacklevel=3,
            )
        if len(pairing.orphan_ends):
            warnings.warn(
                f"stream '{stream}': {len(pairing.orphan_ends)} trial end(s) without a start (entries "
                f"{describe_entries(ids, pairing.orphan_ends)}); skipped.",
                stacklevel=3,
            )
        if pairing.unfinished_start is not None:
            warnings.warn(
                f"stream '{stream}': the last trial (start at entry "
                f"{describe_entries(ids, [pairing.unfinished_start])}) has no end (the block stopped during a "
                "trial); dropped.",
                stacklevel=3,
            )

    def add_to_nwbfile(
        self, nwbfile: NWBFile, metadata: dict | None = None, *, stub_test: bool = False
    ) -> None:
        """Add the trials table to ``nwbfile``.

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built. A trials table another interface wrote (e.g. NeuroConv's
            ``CsvTimeIntervalsInterface`` with extra columns) gets this stream's columns when it holds the same
            trials (start and stop times within :data:`TRIAL_TIME_TOLERANCE_S`).
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited (``TimeIntervals.trials`` table description,
            ``TrialColumns`` column descriptions).
        stub_test : bool
            Accepted for symmetry with the other interfaces; trial streams are small and always written whole.
        """
        metadata = metadata if metadata is not None else self.get_metadata()
        block = metadata.get("TimeIntervals", {}).get("trials", {})
        if block.get("table_name", "trials") != "trials":
            raise GraphError(
                f"stream '{self.spec.name}': metadata['TimeIntervals']['trials']['table_name'] is "
                f"'{block['table_name']}'; a Trial stream writes the NWB trials table, so set it to 'trials'."
            )
        trials = self.compute_trials()
        if len(trials) == 0:
            warnings.warn(
                f"stream '{self.spec.name}' holds no complete trial; no trials table written.", stacklevel=2
            )
            return
        descriptions = self.default_column_descriptions()
        descriptions.update(trial_column_descriptions(metadata))
        table_description = block.get("table_description") or f"Trials of BRAND stream '{self.spec.name}'."
        values = {"start_time": trials.start_time, "stop_time": trials.stop_time, **trials.events}
        if len(self.definition.start_indicators) > 1:
            values["start_indicator"] = trials.start_values.astype(str)
        if len(self.definition.end_indicators) > 1:
            values["stop_indicator"] = trials.stop_values.astype(str)
        if nwbfile.trials is not None:
            self._add_to_existing_trials(nwbfile.trials, values, descriptions)
            return
        columns = [
            VectorData(name=name, description=descriptions.get(name, name), data=data)
            for name, data in values.items()
        ]
        nwbfile.trials = TimeIntervals(
            name="trials", description=table_description, columns=columns, id=np.arange(len(trials))
        )

    def _add_to_existing_trials(
        self, table: TimeIntervals, values: dict[str, np.ndarray], descriptions: dict[str, str]
    ) -> None:
        """Add this stream's columns to a trials table another interface wrote for the same trials."""
        stream = self.spec.name
        clashes = sorted((set(values) - {"start_time", "stop_time"}) & set(table.colnames))
        if clashes:
            enabled = [name for name, spec in self.graph.enabled_streams.items() if spec.type_nwb == "Trial"]
            raise GraphError(
                f"stream '{stream}': the NWB file already has a trials table with column(s) {clashes}, and an NWB "
                f"file holds one. Convert a single Trial stream (the graph enables: {', '.join(enabled) or 'none'}); "
                "with BrandConverter pass streams=[...] to choose."
            )
        for name in ("start_time", "stop_time"):
            theirs = np.asarray(table[name].data[:], dtype=np.float64)
            ours = values[name]
            if len(theirs) != len(ours) or not np.allclose(theirs, ours, rtol=0, atol=TRIAL_TIME_TOLERANCE_S):
                raise GraphError(
                    f"stream '{stream}': the NWB file already has a trials table ({len(theirs)} trials) whose "
                    f"{name} differs from this stream's {len(ours)} trials (by more than "
                    f"{TRIAL_TIME_TOLERANCE_S * 1e3:g} ms). Columns from another interface (e.g. "
                    "CsvTimeIntervalsInterface) can join the Trial stream's only for the same trials, on the "
                    "session clock; write them as another table (its 'tag') otherwise."
                )
        for name, data in values.items():
            if name not in table.colnames:
                table.add_column(name=name, description=descriptions.get(name, name), data=data)
