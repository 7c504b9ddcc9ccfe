"""The index of a raw stream, built in one pass that also spools its samples.

:func:`index_stream` reads the stream once through the shared reader
(:class:`~neuroconv_brand.reading.stream_reader.StreamReader`, so ``.rdb`` files take their columnar path):
every entry's samples and its clock (the NSP ``timestamps`` field, or the entry clock's fields) are decoded
together. The samples go to spool files, one per group of 64 channels (the chunks' width, see
:mod:`~neuroconv_brand.reading.column_groups`), that :meth:`BrandRecordingSegment.get_traces` reads back by row
ranges; the clock gives the contiguous runs of samples and their times. Each node and entry is decoded once.

The stream's entries can be split into id ranges read side by side in forked worker processes
(:func:`~neuroconv_brand.reading.forked_workers.forked_map`); each range is spooled to its own file and the
ranges' clock summaries are joined in order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import GraphError
from ..graph.stream_specs import KeySpec, StreamSpec
from ..graph.supergraph import Graph
from ..reading.column_groups import SpooledColumnGroups
from ..reading.decoding import OnBadEntry
from ..reading.forked_workers import forked_map
from ..reading.read_once_rows import ReadOnceRows
from ..reading.spool_files import SpooledParts
from ..reading.stream_reader import EntryBatch, StreamReader, choose_batch_size, concatenate_batches
from ..reading.stream_spool import session_spool, spool_space_check, spooled_writes
from ..sources.base import StreamSource
from ..sources.entry_ids import EntryId
from ..sources.session import BrandSession
from ..timing.clocks import Clock, redis_seconds
from ..timing.session_clocks import session_entry_times


@dataclass(frozen=True)
class RecordingGap:
    """A discontinuity of the sample clock between two segments (or inside the time vector).

    Attributes
    ----------
    kind : {"gap", "reset"}
        ``"gap"``: samples are missing (dropped packets; the clock jumps forward). ``"reset"``: the clock went
        backwards or repeated a value (an NSP restart); the samples after it are on a new clock epoch.
    sample_index : int
        Index, over all samples of the stream, of the first sample after the discontinuity.
    segment_index : int
        The segment that starts at ``sample_index`` (with ``gaps="timestamps"``: always 0).
    missing_samples : int or None
        Samples lost in a ``"gap"`` (from the clock); None for a reset.
    previous_end_s : float
        Session time of the last sample before the discontinuity.
    next_start_s : float
        Session time of the first sample after it.
    entry_id : str
        Redis id of the entry holding the first sample after the discontinuity.
    """

    kind: Literal["gap", "reset"]
    sample_index: int
    segment_index: int
    missing_samples: int | None
    previous_end_s: float
    next_start_s: float
    entry_id: str


@dataclass(frozen=True)
class Run:
    """A contiguous run of samples: global sample range and the session time of its first sample."""

    first_sample: int
    num_samples: int
    t_start: float


@dataclass
class RecordingIndex:
    """What the pass learned: entry ids, contiguous runs, discontinuities, and where the samples are.

    Attributes
    ----------
    ids : np.ndarray
        ``(n, 2)`` uint64 ids of the entries kept.
    runs : list of Run
        The contiguous runs of samples, in order.
    gaps : list of RecordingGap
        The discontinuities between runs.
    timing : {"nsp", "entries"}
        What stamped the samples.
    samples : ReadOnceRows
        The key's decoded samples, ``(entries x samp, chan)``: in files until read once, then decoded again.
    times : np.ndarray or None
        Session time of every sample (only when asked for, and when there is more than one run).
    skipped : int
        Entries left out because their payload did not match the declared shape.
    """

    ids: np.ndarray
    runs: list[Run]
    gaps: list[RecordingGap]
    timing: Literal["nsp", "entries"]
    samples: ReadOnceRows
    times: np.ndarray | None = None
    skipped: int = 0


@dataclass(frozen=True)
class RawStream:
    """What to read of a raw stream, and how (everything a reading worker needs besides the session).

    Attributes
    ----------
    spec : StreamSpec
        The stream (with ``timestamps`` among its keys when it is the NSP clock).
    key : KeySpec
        The key holding the samples.
    timestamps : KeySpec or None
        The NSP clock field (``timing="nsp"``), else None (the entry clock).
    on_bad_entry : {"raise", "skip"}
        What to do with entries whose payload does not fit.
    clock : {"sync", "monotonic", "redis"}
        The entry clock (``timing="entries"``).
    step : int
        NSP ticks from one sample to the next.
    with_times : bool
        Keep every sample's tick (for an explicit time vector).
    """

    spec: StreamSpec
    key: KeySpec
    timestamps: KeySpec | None
    on_bad_entry: OnBadEntry
    clock: Clock
    step: int = 1
    with_times: bool = False

    def samples_reader(self, source: StreamSource) -> StreamReader:
        """The reader of ``source`` that decodes the samples alone (to read entries again)."""
        return StreamReader(
            source,
            self.spec,
            keys=[self.key.name],
            batch_size=choose_batch_size(self.key.entry_nbytes),
            on_bad_entry=self.on_bad_entry,
            with_sync=False,
            with_monotonic=False,
        )

    def reader(self, source: StreamSource) -> StreamReader:
        """The reader of ``source`` that decodes the samples and the clock of each entry together."""
        keys = [self.key.name]
        spec = self.spec
        if self.timestamps is not None:
            keys.append(self.timestamps.name)
            spec = replace(spec, keys={**spec.keys, self.timestamps.name: self.timestamps})
        entries = self.timestamps is None  # the whole timeline, which the session's clock fits can share
        return StreamReader(
            source,
            spec,
            keys=keys,
            batch_size=choose_batch_size(self.key.entry_nbytes + 2048),
            on_bad_entry=self.on_bad_entry,
            with_sync=entries,
            with_monotonic=entries,
        )


# --------------------------------------------------------------------------------------- the NSP clock


@dataclass
class _ClockPart:
    """What a range of entries tells the NSP-clock index (positions are samples from the range's start)."""

    ids: np.ndarray
    first_ticks: np.ndarray  # the tick of each entry's first sample
    breaks: np.ndarray  # where consecutive samples are not one step apart
    before: np.ndarray  # the tick before each break
    after: np.ndarray  # the tick at each break
    samples: int
    first_tick: int
    last_tick: int
    ticks: np.ndarray | None = None  # every sample's tick, when asked for


def _clock_part(ids: np.ndarray, ticks: np.ndarray, step: int, with_times: bool) -> _ClockPart:
    """The clock summary of one batch: ``ticks`` is ``(entries, samp)``."""
    flat = ticks.reshape(-1)
    breaks = np.flatnonzero(np.diff(flat) != step) + 1
    return _ClockPart(
        ids,
        ticks[:, 0].copy(),
        breaks,
        flat[breaks - 1],
        flat[breaks],
        len(flat),
        int(flat[0]),
        int(flat[-1]),
        flat.copy() if with_times else None,
    )


def _join_clock_parts(parts: list[_ClockPart], step: int) -> _ClockPart | None:
    """Consecutive parts as one, with a break wherever a part does not start one step after the previous."""
    parts = [part for part in parts if part.samples]
    if not parts:
        return None
    breaks, before, after = [], [], []
    offset = 0
    for previous, part in zip([None, *parts], parts):
        if previous is not None and part.first_tick - previous.last_tick != step:
            breaks.append(np.array([offset]))
            before.append(np.array([previous.last_tick]))
            after.append(np.array([part.first_tick]))
        breaks.append(part.breaks + offset)
        before.append(part.before)
        after.append(part.after)
        offset += part.samples
    with_times = parts[0].ticks is not None
    return _ClockPart(
        np.concatenate([part.ids for part in parts]),
        np.concatenate([part.first_ticks for part in parts]),
        np.concatenate(breaks).astype(np.int64),
        np.concatenate(before).astype(np.int64),
        np.concatenate(after).astype(np.int64),
        offset,
        parts[0].first_tick,
        parts[-1].last_tick,
        np.concatenate([part.ticks for part in parts]) if with_times else None,
    )


def _runs_by_nsp_clock(
    clock: _ClockPart, fs: float, tick_rate: float, step: int, start_ms: int, samp: int, with_times: bool
) -> tuple[list[Run], list[RecordingGap], np.ndarray | None]:
    """Runs, gaps and (if asked) times from the NSP clock: one offset to the session clock per clock epoch."""
    positions, before, after = clock.breaks, clock.before, clock.after
    is_reset = after - before <= 0
    reset_positions = positions[is_reset]
    ids = clock.ids
    entry_epoch = np.searchsorted(reset_positions, np.arange(len(ids)) * samp, side="right")
    residual = redis_seconds(ids, start_ms) - clock.first_ticks / tick_rate
    offsets = np.array(
        [float(np.median(residual[entry_epoch == epoch])) for epoch in range(len(reset_positions) + 1)]
    )
    starts = np.concatenate([[0], positions]).astype(np.int64)
    stops = np.concatenate([positions, [clock.samples]]).astype(np.int64)
    start_ticks = np.concatenate([[clock.first_tick], after]).astype(np.int64)
    start_epochs = np.searchsorted(reset_positions, starts, side="right")
    t_starts = start_ticks / tick_rate + offsets[start_epochs]
    runs = [Run(int(a), int(b - a), float(t)) for a, b, t in zip(starts, stops, t_starts)]
    gaps = []
    for number, position in enumerate(positions.tolist()):
        previous_run, next_run = runs[number], runs[number + 1]
        jump = int(after[number] - before[number])
        gaps.append(
            RecordingGap(
                kind="reset" if is_reset[number] else "gap",
                sample_index=int(position),
                segment_index=0 if with_times else number + 1,
                missing_samples=None if is_reset[number] else round(jump / step) - 1,
                previous_end_s=previous_run.t_start + (previous_run.num_samples - 1) / fs,
                next_start_s=next_run.t_start,
                entry_id=str(EntryId(*map(int, ids[position // samp]))),
            )
        )
    times = None
    if with_times and len(runs) > 1:
        sample_epoch = np.repeat(start_epochs, stops - starts)
        times = clock.ticks / tick_rate + offsets[sample_epoch]
    return runs, gaps, times


# ------------------------------------------------------------------------------------- the entry clock


def _runs_by_entry_clock(
    seconds: np.ndarray, ids: np.ndarray, fs: float, samp: int, with_times: bool
) -> tuple[list[Run], list[RecordingGap], np.ndarray | None]:
    """Runs where entries are one entry period apart (+-50 %), from the entries' session times."""
    period = samp / fs
    diffs = np.diff(seconds)
    breaks = np.flatnonzero(np.abs(diffs - period) > 0.5 * period) + 1
    bounds = np.concatenate([[0], breaks, [len(seconds)]])
    runs = []
    for first, stop in pairwise(bounds):
        local = seconds[first:stop] - np.arange(stop - first) * period
        runs.append(Run(int(first * samp), int((stop - first) * samp), float(np.median(local))))
    gaps = []
    for number, entry in enumerate(breaks.tolist()):
        previous_run, next_run = runs[number], runs[number + 1]
        jump = diffs[entry - 1]
        gaps.append(
            RecordingGap(
                kind="gap" if jump > period else "reset",
                sample_index=entry * samp,
                segment_index=0 if with_times else number + 1,
                missing_samples=round((jump - period) * fs) if jump > period else None,
                previous_end_s=previous_run.t_start + (previous_run.num_samples - 1) / fs,
                next_start_s=next_run.t_start,
                entry_id=str(EntryId(*map(int, ids[entry]))),
            )
        )
    times = None
    if with_times and len(runs) > 1:
        times = np.concatenate([run.t_start + np.arange(run.num_samples) / fs for run in runs])
    return runs, gaps, times


# ------------------------------------------------------------------------------------------- the pass


@dataclass
class _RangePass:
    """What reading one id range gave: its spool file, and its clock summary or timeline."""

    samples: SpooledColumnGroups
    clock: _ClockPart | None
    timeline: EntryBatch | None
    skipped: int


def _read_range(
    session: BrandSession, raw: RawStream, start: EntryId | None, end: EntryId | None, folder: Path
) -> _RangePass:
    """Decode the entries of ``[start, end]`` once: samples to ``folder``, and the clock summary or timeline."""
    reader = raw.reader(session.source)
    samples = SpooledColumnGroups(folder, "samples", raw.key)
    clock_parts: list[_ClockPart] = []
    timelines: list[EntryBatch] = []
    with spooled_writes(raw.spec.name, folder, lambda: samples.groups), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the extractor reports the entries left out, with its own words
        for batch in reader.iter_batches(start, end):
            samples.append(batch.data[raw.key.name])
            if raw.timestamps is None:
                timelines.append(EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns))
                continue
            ticks = batch.data[raw.timestamps.name].reshape(len(batch), raw.timestamps.samp).astype(np.int64)
            if raw.timestamps.samp != raw.key.samp:  # one tick per entry stamps its first sample
                ticks = ticks[:, :1] + np.arange(raw.key.samp, dtype=np.int64)[None, :] * raw.step
            clock_parts.append(_clock_part(batch.ids, ticks, raw.step, raw.with_times))
    clock = _join_clock_parts(clock_parts, raw.step) if raw.timestamps is not None else None
    timeline = concatenate_batches(raw.spec.name, timelines) if raw.timestamps is None else None
    return _RangePass(samples, clock, timeline, reader.skipped_total)


def _read_range_in_worker(session: BrandSession, job: tuple) -> _RangePass:
    """In a forked worker: one id range (its spool file travels as its path)."""
    raw, start, end, folder = job
    result = _read_range(session, raw, start, end, folder)
    result.samples.close()
    return result


def _read_stream(session: BrandSession, raw: RawStream, workers: int) -> list[_RangePass]:
    """Every entry of the stream, in id ranges read side by side where possible, in order."""
    spool = session_spool(session)
    spool_space_check(session, raw.spec, [raw.key], spool.folder)
    bounds = session.source.split_points(raw.spec.name, workers) if workers > 1 else []
    ranges = list(zip([None, *bounds], [*(bound.predecessor() for bound in bounds), None]))
    jobs = [(raw, start, end, spool.new_folder()) for start, end in ranges]
    results = forked_map(session, _read_range_in_worker, jobs, workers) if len(jobs) > 1 else None
    if results is not None and all(result is not None for result in results):
        return results
    for result in results or []:
        if result is not None:
            result.samples.unlink()
    return [_read_range(session, raw, None, None, jobs[0][3])]


def index_stream(
    session: BrandSession,
    graph: Graph,
    raw: RawStream,
    sampling_frequency: float,
    tick_rate: float,
    start_ms: int,
    workers: int = 1,
) -> RecordingIndex:
    """Read the raw stream once (``workers`` id ranges side by side) and index it.

    Parameters
    ----------
    session, graph : BrandSession, Graph
        The open session and its graph.
    raw : RawStream
        What to read.
    sampling_frequency : float
        Samples per second.
    tick_rate : float
        Ticks per second of the NSP clock (``raw.timestamps``).
    start_ms : int
        ``session_start_time`` in Unix ms.
    workers : int
        Processes that read the stream's id ranges (1: this process).

    Returns
    -------
    RecordingIndex
        The index. While an extractor uses it, the same stream asked for again with the same settings (another
        extractor, or the one a converter builds after ``neuroconv-brand convert`` started the pass) gets it
        instead of a second pass.

    Raises
    ------
    GraphError
        The stream has no entries.
    """
    cache_key = (
        id(graph),
        raw.spec.name,
        raw.key.name,
        None if raw.timestamps is None else raw.timestamps.name,
        raw.on_bad_entry,
        raw.clock,
        raw.step,
        raw.with_times,
        float(sampling_frequency),
        float(tick_rate),
        start_ms,
    )
    index = session.context.raw_indexes.get(cache_key)
    if index is not None:
        return index
    passes = _read_stream(session, raw, workers)
    spooled = SpooledParts([result.samples for result in passes])
    spooled.detach()  # the files live as long as the extractor that reads them
    skipped = sum(result.skipped for result in passes)
    if spooled.rows == 0:
        raise GraphError(f"stream '{raw.spec.name}' has no entries to read.")
    if raw.timestamps is not None:
        clock = _join_clock_parts([result.clock for result in passes if result.clock is not None], raw.step)
        runs, gaps, times = _runs_by_nsp_clock(
            clock, sampling_frequency, tick_rate, raw.step, start_ms, raw.key.samp, raw.with_times
        )
        ids, timing = clock.ids, "nsp"
    else:
        timeline = concatenate_batches(raw.spec.name, [result.timeline for result in passes])
        runs, gaps, times = _runs_of_entry_times(session, graph, raw, timeline, sampling_frequency, start_ms)
        ids, timing = timeline.ids, "entries"
    samples = ReadOnceRows(spooled, _rereader(session, raw, ids))
    index = RecordingIndex(ids, runs, gaps, timing, samples, times, skipped)
    session.context.raw_indexes[cache_key] = index
    return index


def _runs_of_entry_times(
    session: BrandSession,
    graph: Graph,
    raw: RawStream,
    timeline: EntryBatch,
    sampling_frequency: float,
    start_ms: int,
) -> tuple[list[Run], list[RecordingGap], np.ndarray | None]:
    """Runs, gaps and (if asked) times of a stream timed by its entry clock (the session-wide clock fit)."""
    if raw.on_bad_entry == "raise" or set(raw.spec.exported_keys) == {raw.key.name}:
        # The same entries as the stream's own pass would keep: a clock fit on this stream need not read it again.
        session_spool(session).keep_timeline(raw.spec, raw.on_bad_entry, timeline)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback count is reported below, with the stream's name
        entry_times = session_entry_times(
            session, graph, raw.spec, timeline, raw.clock, start_ms, raw.on_bad_entry
        )
    if entry_times.fallback_entries:
        warnings.warn(
            f"stream '{raw.spec.name}': {entry_times.fallback_entries} entries lack the {raw.clock} clock's field; "
            "they are stamped with their Redis entry-id time.",
            stacklevel=5,
        )
    return _runs_by_entry_clock(
        entry_times.seconds, timeline.ids, sampling_frequency, raw.key.samp, raw.with_times
    )


def _rereader(session: BrandSession, raw: RawStream, ids: np.ndarray):
    """``reread(start, stop)``: sample rows ``[start, stop)`` decoded again from the entries that hold them.

    ``ids`` are the entries the pass kept, in order (entry ``k`` holds rows ``k * samp`` to ``(k + 1) * samp``);
    entries the pass skipped (``on_bad_entry="skip"``) are skipped again.
    """
    samp, chan = raw.key.samp, raw.key.chan

    def reread(start: int, stop: int) -> np.ndarray:
        first, last = start // samp, (stop - 1) // samp
        reader = raw.samples_reader(session.source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the pass reported the entries it left out
            blocks = [
                batch.data[raw.key.name].reshape(-1, chan)
                for batch in reader.iter_batches(
                    EntryId(*map(int, ids[first])), EntryId(*map(int, ids[last]))
                )
            ]
        rows = np.concatenate(blocks) if blocks else np.empty((0, chan), dtype=raw.key.numpy_dtype)
        if len(rows) != (last - first + 1) * samp:
            raise GraphError(
                f"stream '{raw.spec.name}': entries {EntryId(*map(int, ids[first]))} to "
                f"{EntryId(*map(int, ids[last]))} changed in the source since it was indexed "
                f"({len(rows) // samp} entries, expected {last - first + 1}); open the recording again."
            )
        return rows[start - first * samp : stop - first * samp]

    return reread
