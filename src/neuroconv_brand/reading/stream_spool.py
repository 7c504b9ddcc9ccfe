"""One read of a stream: its timeline and the data of its exported numeric keys spooled to disk.

A stream is needed twice during a conversion: its timeline (ids, sync labels, ``ts``) must be known before
pynwb is given the data (for ``timestamps`` or ``starting_time`` + ``rate``, and for the session's clock fit),
and its data are written later, buffer by buffer. Reading the source twice doubled the cost of the large
streams (parsing a ``.rdb`` file or XRANGE round trips), and on a live Redis the two passes could disagree.
So the first pass decodes everything once into temporary files: the timeline (about 33 bytes per entry) and
each numeric key's decoded rows, which the clock computations, data iterators, spike-time extraction and clock
tables then read back at page-cache speed, a stream or a buffer at a time (a timeline is read whole only while
a clock is computed). Memory holds no stream's data, only a timeline at a time; the files take as much disk
as the keys' uncompressed data and are deleted when nothing reads them any more.

The spool folder is a fresh directory under ``$NEUROCONV_BRAND_SPOOL_DIR`` if set, else the system's
temporary folder (``$TMPDIR``, see :func:`tempfile.gettempdir`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..environment import count_from_environment, usable_cpus
from ..errors import BrandError, GraphError
from ..graph.stream_specs import KeySpec, StreamSpec
from ..interruption import deferred_interrupts
from ..mechanisms.crossings import crossings_key
from ..sources.session import BrandSession
from .decoding import OnBadEntry
from .disk_space import NO_SPACE_ERRNOS
from .forked_workers import forked_map
from .spool_files import ColumnReader, SpooledArray, SpooledKey, SpooledTimeline, timeline_readers
from .stream_reader import EntryBatch, StreamReader

#: Environment variable naming the folder for spooled stream data.
SPOOL_DIR_VARIABLE = "NEUROCONV_BRAND_SPOOL_DIR"


#: Write errors that mean the spool folder is full (or a file-size or quota limit is reached).
_NO_SPACE = NO_SPACE_ERRNOS


class SpoolSpaceError(BrandError):
    """The spool folder has no room for a stream's data."""


@dataclass
class StreamPass:
    """What one read of a stream produced.

    Attributes
    ----------
    stream : str
        The stream's name.
    keys : dict of str to SpooledKey
        The spooled numeric keys, whose rows line up with the timeline's entries.
    on_bad_entry : {"raise", "skip"}
        How entries with bad payloads were treated (in skip mode they are in neither the timeline nor the keys).
    spooled_timeline : SpooledTimeline, optional
        The timeline in files (when the pass spooled the stream's data).
    memory_timeline : EntryBatch, optional
        The timeline in memory (when it did not).
    derived : dict
        What the interfaces of this stream computed from it once and share (e.g. entry times per clock).
    """

    stream: str
    keys: dict[str, SpooledKey] = field(default_factory=dict)
    on_bad_entry: OnBadEntry = "raise"
    spooled_timeline: SpooledTimeline | None = None
    memory_timeline: EntryBatch | None = None
    derived: dict = field(default_factory=dict)

    @property
    def timeline(self) -> EntryBatch:
        """Ids, sync labels and monotonic stamps of every entry kept (read from the files each time)."""
        if self.spooled_timeline is not None:
            return self.spooled_timeline.load()
        return self.memory_timeline

    @property
    def length(self) -> int:
        """Entries in the pass."""
        if self.spooled_timeline is not None:
            return self.spooled_timeline.length
        return len(self.memory_timeline)

    def timeline_readers(self) -> dict[str, ColumnReader]:
        """Slice readers of the timeline's columns (see :func:`~neuroconv_brand.reading.spool_files.timeline_readers`)."""
        return timeline_readers(self.spooled_timeline or self.memory_timeline)

    def files(self) -> list[SpooledArray]:
        """Every spool file of the pass."""
        timeline = self.spooled_timeline.files() if self.spooled_timeline is not None else []
        return [*self.keys.values(), *timeline]


class SessionSpool:
    """The stream passes of one open session and the temporary folder that holds their data."""

    def __init__(self, session: BrandSession):
        self.session = session
        self.passes: dict[tuple[str, OnBadEntry], StreamPass] = {}
        self._folder: tempfile.TemporaryDirectory | None = None
        self._numbers = itertools.count()

    @property
    def folder(self) -> Path:
        """The spool folder (created on first use)."""
        if self._folder is None:
            parent = os.environ.get(SPOOL_DIR_VARIABLE) or None
            if parent is not None:
                Path(parent).mkdir(parents=True, exist_ok=True)
            self._folder = tempfile.TemporaryDirectory(
                prefix="neuroconv-brand-spool-", dir=parent, ignore_cleanup_errors=True
            )
        return Path(self._folder.name)

    def _is_read(self, spec: StreamSpec, on_bad_entry: OnBadEntry, spool: bool) -> bool:
        existing = self.passes.get((spec.name, on_bad_entry))
        return existing is not None and (existing.spooled_timeline is not None or not spool)

    def _new_folder(self, spool: bool) -> Path | None:
        return self.new_folder() if spool else None

    def new_folder(self) -> Path:
        """A new, empty folder in the spool folder (for one read's files)."""
        folder = self.folder / str(next(self._numbers))
        folder.mkdir()
        return folder

    def _store(self, spec: StreamSpec, on_bad_entry: OnBadEntry, result: StreamPass) -> StreamPass:
        for spooled in result.files():
            spooled.detach()  # closed when nothing can read it any more (see spool_files)
        self.passes[(spec.name, on_bad_entry)] = result
        return result

    def stream_pass(self, spec: StreamSpec, on_bad_entry: OnBadEntry, spool: bool) -> StreamPass:
        """The stream's pass, read now unless already read (with its data spooled if ``spool``)."""
        if self._is_read(spec, on_bad_entry, spool):
            return self.passes[(spec.name, on_bad_entry)]
        return self._store(
            spec, on_bad_entry, read_stream(self.session, spec, on_bad_entry, self._new_folder(spool))
        )

    def keep_timeline(self, spec: StreamSpec, on_bad_entry: OnBadEntry, timeline: EntryBatch) -> None:
        """Keep ``timeline`` (ids, sync labels, ``ts`` of every entry) as the stream's pass, unless it was read.

        For a reader that decoded the stream's timeline along with its own data (the raw recording's index), so
        that a clock fit on the same stream does not read it again.
        """
        if (spec.name, on_bad_entry) not in self.passes:
            self.passes[(spec.name, on_bad_entry)] = StreamPass(
                spec.name, {}, on_bad_entry, memory_timeline=timeline
            )

    def read_ahead(
        self, requests: list[tuple[StreamSpec, OnBadEntry, bool]], workers: int | None = None
    ) -> None:
        """Read several streams' passes at once, in forked worker processes (one stream each).

        Parsing a stream is CPU-bound Python, so reading the large streams side by side uses every core. Where
        that is not possible (one worker, one stream, no ``fork``, or a process that already runs threads, which
        ``fork`` does not carry over safely) nothing happens here and each pass is read when first needed. A
        stream whose worker fails is read again in this process, which raises its error with its own type.

        Parameters
        ----------
        requests : list of (StreamSpec, on_bad_entry, spool)
            The passes wanted.
        workers : int, optional
            Worker processes; default :func:`read_workers`.
        """
        todo = {}
        for spec, on_bad_entry, spool in requests:
            if not self._is_read(spec, on_bad_entry, spool):
                todo[(spec.name, on_bad_entry)] = (spec, on_bad_entry, spool)
        workers = min(read_workers() if workers is None else workers, len(todo))
        if workers < 2:
            return
        lengths = {name: self.session.source.stream_stats(name).length for name, _ in todo}
        ordered = sorted(todo.values(), key=lambda request: -lengths[request[0].name])
        jobs = [(spec, on_bad_entry, self._new_folder(spool)) for spec, on_bad_entry, spool in ordered]
        for (spec, on_bad_entry, _), outcome in zip(
            jobs, forked_map(self.session, _read_in_worker, jobs, workers) or []
        ):
            if outcome is not None:
                result, messages = outcome
                for message, category in messages:
                    warnings.warn(message, category, stacklevel=2)
                self._store(spec, on_bad_entry, result)

    def spool_column(self, values: np.ndarray, what: str) -> SpooledArray:
        """``values`` (1-D, e.g. spike times) moved to a spool file (for a column pynwb reads buffer by buffer).

        ``what`` names the column in a :class:`SpoolSpaceError`.
        """
        spooled = SpooledArray(self._new_folder(True) / "column.bin", values.dtype)
        try:
            spooled.append(values)
        except OSError as error:
            spooled.close()
            spooled.path.unlink(missing_ok=True)
            if error.errno in _NO_SPACE:
                raise SpoolSpaceError(
                    f"{what}: no space left for its {values.nbytes / 1e6:.0f} MB in {spooled.path.parent} "
                    f"({error.strerror}). Set {SPOOL_DIR_VARIABLE} (`neuroconv-brand convert --spool-dir`) to a "
                    "folder with more space."
                ) from error
            raise
        spooled.detach()
        return spooled

    def close(self) -> None:
        """Forget the passes and delete the folder.

        The files are already unlinked; each is closed, and its space freed, when the last object that reads it
        (an interface, a pynwb data iterator of a file not yet written) is gone.
        """
        self.passes.clear()
        if self._folder is not None:
            with deferred_interrupts():
                self._folder.cleanup()
            self._folder = None


#: Most worker processes :meth:`SessionSpool.read_ahead` starts by default.
MAX_READ_WORKERS = 4
#: Environment variable that sets the number of reading workers (1 reads every stream in this process).
READ_WORKERS_VARIABLE = "NEUROCONV_BRAND_READ_WORKERS"


def read_workers() -> int:
    """Worker processes for reading streams: ``$NEUROCONV_BRAND_READ_WORKERS``, else the usable CPUs (at most 4)."""
    return count_from_environment(READ_WORKERS_VARIABLE, max(1, min(usable_cpus(), MAX_READ_WORKERS)))


def _read_in_worker(session: BrandSession, job: tuple) -> tuple | None:
    """In a forked worker: read one stream; its pass (spool files travel as paths) and warnings."""
    spec, on_bad_entry, folder = job
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read_stream(session, spec, on_bad_entry, folder)
    for spooled in result.files():
        spooled.close()
    return result, [(str(warning.message), warning.category) for warning in caught]


def session_spool(session: BrandSession) -> SessionSpool:
    """The spool of ``session``, kept in its context (closed, and its folder deleted, when the session closes)."""
    if session.context.spool is None:
        session.context.spool = SessionSpool(session)
    return session.context.spool


def numeric_keys(spec: StreamSpec) -> dict[str, KeySpec]:
    """What a pass spools: the exported keys that hold numbers, and a SpikeTimes stream's crossings key."""
    names = list(spec.exported_numeric_keys)
    with contextlib.suppress(GraphError):  # no valid crossings key: the interface reports it, not the spool
        names.append(crossings_key(spec).name)
    return {name: spec.keys[name] for name in dict.fromkeys(names)}


def spool_space_check(session: BrandSession, spec: StreamSpec, keys: Iterable[KeySpec], folder: Path) -> None:
    """Raise :class:`SpoolSpaceError` when ``folder`` cannot hold ``keys`` of every entry of ``spec``'s stream."""
    entries = session.source.stream_stats(spec.name).length
    needed = entries * sum(key.entry_nbytes for key in keys)
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise SpoolSpaceError(
            f"stream '{spec.name}': spooling its {entries} entries needs about {needed / 1e6:.0f} MB in {folder}, "
            f"which has {free / 1e6:.0f} MB free. Set {SPOOL_DIR_VARIABLE} "
            "(`neuroconv-brand convert --spool-dir`) to a folder with more space."
        )


@contextlib.contextmanager
def spooled_writes(stream: str, folder: Path, files: Callable[[], list[SpooledArray]]) -> Iterator[None]:
    """Within the block, ``files()`` are being written: on any error they are removed, and a full disk explained."""
    try:
        yield
    except BaseException as error:
        for target in files():
            target.close()
            target.path.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno in _NO_SPACE:
            raise SpoolSpaceError(
                f"stream '{stream}': no space left for its spooled data in {folder} ({error.strerror}). Set "
                f"{SPOOL_DIR_VARIABLE} (`neuroconv-brand convert --spool-dir`) to a folder with more space."
            ) from error
        raise


def read_stream(
    session: BrandSession, spec: StreamSpec, on_bad_entry: OnBadEntry, folder: Path | None
) -> StreamPass:
    """Read ``spec``'s stream once: keep the timeline, spool the numeric exported keys into ``folder``.

    With ``folder=None`` nothing is spooled and the timeline stays in memory (a timeline for the clock fit of
    a stream that is not converted); in ``skip`` mode the exported keys are still decoded, so that the timeline
    leaves out the same entries as the data would. With a folder, the timeline goes to files too.
    """
    keys = numeric_keys(spec) if folder is not None else {}
    decoded = list(dict.fromkeys([*spec.exported_keys, *keys])) if (keys or on_bad_entry == "skip") else []
    reader = StreamReader(session.source, spec, keys=decoded, on_bad_entry=on_bad_entry)
    if folder is None:
        batch = reader.read()
        timeline = EntryBatch(batch.stream, batch.ids, {}, batch.sync, batch.monotonic_ns)
        return StreamPass(spec.name, {}, on_bad_entry, memory_timeline=timeline)
    spool_space_check(session, spec, numeric_keys(spec).values(), folder)
    spooled = {
        name: SpooledKey(folder / f"key{index}.bin", key) for index, (name, key) in enumerate(keys.items())
    }
    result = StreamPass(spec.name, spooled, on_bad_entry, spooled_timeline=SpooledTimeline(spec.name, folder))
    with spooled_writes(spec.name, folder, result.files):
        for batch in reader.iter_batches():
            for name, target in spooled.items():
                target.append(batch.data[name])
            result.spooled_timeline.append(batch)
    return result
