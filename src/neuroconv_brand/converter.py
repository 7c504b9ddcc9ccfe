"""``BrandConverter``: a whole BRAND session (every enabled stream + participant metadata) as one NWBConverter."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import jsonschema
from neuroconv import BaseDataInterface, NWBConverter
from neuroconv.utils import get_json_schema_from_method_signature
from pynwb import NWBFile

from .errors import ConfigurationError, GraphError, MetadataFileError
from .graph.acquisition import chosen_recording_streams
from .interfaces.alignment import (
    earlier_start,
    earliest_time,
    link_followers,
    shift_interfaces,
    start_shift_for,
)
from .interfaces.flat_options import expand_flat_options, flat_options_schema
from .interfaces.participant import BrandParticipantInterface
from .interfaces.registry import interface_class_for, recording_interface_class
from .interfaces.stream_timestamps import BrandStreamTimestampsInterface
from .nwb.backend_edits import apply_dataset_edits
from .nwb.compression_presets import apply_compression_preset, parse_compression
from .nwb.dataset_io import default_backend_configuration
from .nwb.input_protection import check_output_is_not_input
from .nwb.output_files import refuse_existing_output, write_nwbfile
from .nwb.zarr_references import JsonZarrReferencesMixin
from .reading.stream_spool import session_spool
from .sources.session import BrandSession
from .timing.clocks import session_start_datetime

#: Mechanisms in the order they are added: trials before the per-trial columns that need them.
_MECHANISM_ORDER = ("Trial", "TrialInfo", "TimeSeries", "Position", "SpikeTimes")


@contextlib.contextmanager
def metadata_errors_explained() -> Iterator[None]:
    """Turn NeuroConv's jsonschema errors on the metadata into a :class:`ConfigurationError` naming the path."""
    try:
        yield
    except jsonschema.ValidationError as error:
        path = "".join(f"[{part!r}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
        raise ConfigurationError(
            f"metadata{path or ' (top level)'}: {error.message}. Fix it in the metadata you pass (--metadata FILE)."
        ) from None


def snapshot_note(session: BrandSession) -> str | None:
    """The instant every stream of ``session`` is read up to, as a sentence (None for a source without entries)."""
    end = session.source.snapshot_end()
    if end is None:
        return None
    when = session_start_datetime(end.ms).isoformat(timespec="milliseconds")
    return f"Every BRAND stream read up to Redis entry id {end} ({when}) from {session.location.description}."


class BrandConverter(JsonZarrReferencesMixin, NWBConverter):
    """Convert a BRAND session: one interface per enabled stream, plus participant and device metadata.

    Streams are those the graph exports (graph ``enable`` over node ``enable_nwb``; keys with an ``nwb:``
    block), or the ones named in ``streams``. Build it directly, with :meth:`from_source`, or name it in a
    YAML specification (``data_interfaces: {brand: BrandConverter}``).

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    participant_file : str, optional
        The participant YAML (``metadata`` + ``implants``).
    devices_file : str, optional
        The devices YAML (a list of ``name``, ``electrode_qty``, ``description``, ``manufacturer``).
    brand_base_dir : str, optional
        The BRAND base directory, for graphs whose supergraph has no compiled stream definitions.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (a graph may publish
        several, e.g. one per block type); default: the graph's exportNWB derivative.
    streams : list of str, optional
        Convert exactly these streams (enabled or not) instead of the graph's selection; a raw broadband stream
        named here is converted as with ``include_raw`` (an ElectricalSeries linked to the electrodes).
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries of every stream.
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or drop them with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    include_raw : bool
        Also convert the raw broadband streams (written by acquisition nodes such as cerebusAdapterGem; off in
        BRAND by default) as ElectricalSeries through SpikeInterface (see docs/continuous-data.md).
    recording_streams : list of str, optional
        Convert exactly these streams as ElectricalSeries (implies raw data for them).
    stream_timestamps : bool
        Also write each converted stream's ``<stream>_ts`` table (every clock of every entry, in seconds), for
        provenance (``processing/brand_timestamps``).
    verbose : bool
        Print progress.
    """

    display_name = "BRAND session"
    keywords = ("BRAND", "brain-computer interface", "Redis")
    associated_suffixes = (".rdb",)
    info = "Every exported stream of a BRAND session (live Redis or dump.rdb) plus participant metadata."
    data_interface_classes: dict[str, type[BaseDataInterface]] = {}

    def __init__(
        self,
        file_path: str | Path,
        participant_file: str | Path | None = None,
        devices_file: str | Path | None = None,
        brand_base_dir: str | Path | None = None,
        derivative: str | None = None,
        streams: list[str] | None = None,
        clock: Literal["sync", "monotonic", "redis"] = "sync",
        on_bad_entry: Literal["raise", "skip"] = "raise",
        redis_server_path: str | Path | None = None,
        include_raw: bool = False,
        recording_streams: list[str] | None = None,
        stream_timestamps: bool = True,
        verbose: bool = False,
    ):
        self.verbose = verbose
        common = dict(
            file_path=file_path,
            brand_base_dir=brand_base_dir,
            derivative=derivative,
            clock=clock,
            on_bad_entry=on_bad_entry,
            redis_server_path=redis_server_path,
        )
        # One session for the graph and every interface: closing it in between would index the source twice.
        with BrandSession.open(file_path, redis_server_path=redis_server_path) as session:
            graph = session.graph(brand_base_dir=brand_base_dir, derivative=derivative)
            self.snapshot_note = snapshot_note(session)
            self._read_files = {f"the node YAML {path.name}": path for path in graph.node_yaml_files}
            if session.location.kind == "rdb":
                self._read_files["the .rdb source"] = Path(session.location.target)
            present = set(session.source.stream_names())
            if recording_streams is None:
                recording_streams = chosen_recording_streams(graph, present, streams, include_raw)
            selected = [
                n for n in self._select_streams(graph, present, streams) if n not in recording_streams
            ]
            self.data_interface_objects: dict[str, BaseDataInterface] = {}
            participant = self._participant_interface(
                participant_file, devices_file, file_path, brand_base_dir, derivative, redis_server_path
            )
            if participant is not None:  # first: the electrodes table must exist before units link to it
                self.data_interface_objects["Participant"] = participant
            for name in recording_streams:  # SpikeInterface is imported only here, for raw streams
                self.data_interface_objects[name] = recording_interface_class()(stream_name=name, **common)
            for name in selected:
                interface_class = interface_class_for(graph.streams[name].type_nwb)
                if interface_class is None:
                    warnings.warn(
                        f"stream '{name}' ({graph.streams[name].type_nwb}) has no interface in this version; skipped.",
                        stacklevel=2,
                    )
                    continue
                self.data_interface_objects[name] = interface_class(stream_name=name, **common)
            if not any(name in self.data_interface_objects for name in [*recording_streams, *selected]):
                reasons = (
                    "; ".join(graph.problems[:3]) or "the graph enables no stream that has data in the source"
                )
                raise GraphError(
                    f"nothing to convert from {file_path}: {reasons}. Run `neuroconv-brand inspect` to see every "
                    "stream and why it is or is not exported; pass brand_base_dir (--brand-base-dir) for graphs saved "
                    "before 2025, or name streams (--stream)."
                )
            if stream_timestamps:
                for name in [name for name in selected if name in self.data_interface_objects]:
                    self.data_interface_objects[f"{name}_ts"] = BrandStreamTimestampsInterface(
                        stream_name=name, **common
                    )
        self.data_interface_classes = {name: type(obj) for name, obj in self.data_interface_objects.items()}
        self.participant_file, self.devices_file = participant_file, devices_file
        link_followers(self.data_interface_objects)
        #: How far (s) the conversion moved everything so that no time is negative; the start moves back as much.
        self.start_shift_s = 0.0

    def input_files(self) -> dict[str, Path]:
        """The files the conversion reads, by description: the ``.rdb``, participant, devices, node YAMLs.

        :meth:`write` and :meth:`run_conversion` refuse an output that is one of them (see
        :func:`~neuroconv_brand.nwb.output_files.check_output_is_not_input`).
        """
        files = dict(self._read_files)
        participant = self.data_interface_objects.get("Participant")
        if participant is not None:
            files.update(participant.input_files())
        return files

    @staticmethod
    def _participant_interface(
        participant_file, devices_file, file_path, brand_base_dir, derivative, redis_server_path
    ):
        """The participant interface from the given files, else from the files the graph names, else None."""
        try:
            return BrandParticipantInterface(
                participant_file=participant_file,
                devices_file=devices_file,
                file_path=file_path,
                brand_base_dir=brand_base_dir,
                derivative=derivative,
                redis_server_path=redis_server_path,
            )
        except MetadataFileError as error:
            if participant_file is not None:
                raise
            warnings.warn(
                f"no participant metadata ({error}); pass participant_file=... (--participant) for the subject, "
                "devices and electrodes.",
                stacklevel=3,
            )
            return None

    @staticmethod
    def _select_streams(graph, present: set[str], streams: list[str] | None) -> list[str]:
        if streams is not None:
            unknown = [name for name in streams if name not in graph.streams]
            if unknown:
                raise GraphError(
                    f"stream(s) {unknown} are not in the graph; streams the graph knows: {sorted(graph.streams)}."
                )
            absent = [name for name in streams if name not in present]
            if absent:
                raise GraphError(
                    f"stream(s) {absent} are defined in the graph but have no data in the source."
                )
            chosen = list(streams)
        else:
            chosen = [name for name in graph.enabled_streams if name in present]
            missing = [name for name in graph.enabled_streams if name not in present]
            if missing:
                warnings.warn(
                    f"enabled stream(s) {missing} have no data in the source (flushed before saving?); skipped.",
                    stacklevel=3,
                )
        order = {mechanism: rank for rank, mechanism in enumerate(_MECHANISM_ORDER)}
        return sorted(chosen, key=lambda name: order.get(graph.streams[name].type_nwb, len(order)))

    @classmethod
    def from_source(cls, source: str | Path, **options) -> BrandConverter:
        """Build the converter for ``source`` (same options as the constructor)."""
        return cls(file_path=source, **options)

    @classmethod
    def get_source_schema(cls) -> dict:
        """The constructor's signature as a JSON schema (NeuroConv's convention for interfaces)."""
        return get_json_schema_from_method_signature(cls, exclude=["source_data"])

    def read_streams(self, workers: int | None = None) -> None:
        """Read every converted stream once, several at a time in worker processes where possible.

        Called by :meth:`add_to_nwbfile`; each stream's timeline is kept and its data spooled to disk (see
        :mod:`neuroconv_brand.reading.stream_spool`), so the interfaces then write without reading the source again.

        Parameters
        ----------
        workers : int, optional
            Worker processes (default ``$NEUROCONV_BRAND_READ_WORKERS``, else the usable CPUs, at most 4; 1
            reads every stream in this process).
        """
        by_session: dict[int, tuple[BrandSession, list]] = {}
        for interface in self.data_interface_objects.values():
            request = getattr(interface, "stream_pass_request", lambda: None)()
            if request is not None:
                by_session.setdefault(id(interface.session), (interface.session, []))[1].append(request)
        for session, requests in by_session.values():
            session_spool(session).read_ahead(requests, workers)

    def shift_times(self, seconds: float) -> None:
        """Move every time the converter writes by ``seconds``; ``session_start_time`` stays.

        Data, trials, clock tables (all their session-time columns) and TrialInfo entries move together.

        Per-stream alignment (``set_aligned_timestamps`` and co. on one interface) moves that stream, its clock
        table's ``session_time`` and, for the Trial stream, the TrialInfo entries.
        """
        shift_interfaces(self.data_interface_objects, seconds)

    def set_aligned_starting_time(self, aligned_starting_time: float) -> None:
        """NeuroConv's name for :meth:`shift_times` (the times start ``aligned_starting_time`` s later)."""
        self.shift_times(aligned_starting_time)

    def earliest_time(self) -> float | None:
        """The earliest time (s since ``session_start_time``) written anywhere; None when nothing is."""
        self.read_streams()
        return earliest_time(self.data_interface_objects)

    def _start_offset(self) -> float:
        """How far (s) ``session_start_time`` must lie before BRAND's first entry.

        The shift already applied plus the one the current times need.
        """
        return self.start_shift_s + start_shift_for(self.earliest_time())

    def get_metadata(self, *args, **kwargs) -> dict:
        """NeuroConv's merged metadata: ``session_start_time`` at the earliest time written, the snapshot in notes.

        BRAND's first entry ids are not always the earliest times: sync-clock times of the first entries and
        monotonic stamps can lie before them. The start moves back as much, and the conversion shifts every time
        by the same amount (reads every stream once, as the conversion would).
        """
        metadata = super().get_metadata(*args, **kwargs)
        start = metadata["NWBFile"]["session_start_time"]
        metadata["NWBFile"]["session_start_time"] = earlier_start(start, self._start_offset())
        if self.snapshot_note:  # the instant every stream was read up to
            notes = metadata["NWBFile"].get("notes")
            metadata["NWBFile"]["notes"] = f"{notes}\n{self.snapshot_note}" if notes else self.snapshot_note
        return metadata

    def temporally_align_data_interfaces(
        self, metadata: dict | None = None, conversion_options: dict | None = None
    ):
        """Shift every time so that none is negative (NWB best practice).

        ``session_start_time`` in ``metadata`` (edited in place) moves back as far, unless it is already earlier.
        """
        shift = start_shift_for(self.earliest_time())
        if shift:
            self.shift_times(shift)
            self.start_shift_s += shift
        if metadata is None or "session_start_time" not in metadata.get("NWBFile", {}):
            return
        first_entry = next(
            session_start_datetime(obj.session_start_ms)
            for obj in self.data_interface_objects.values()
            if hasattr(obj, "session_start_ms")
        )
        required = earlier_start(first_entry, self.start_shift_s)
        given = earlier_start(metadata["NWBFile"]["session_start_time"], 0.0)
        if given.tzinfo is None:
            given = given.replace(tzinfo=required.tzinfo)
        if given > required:
            metadata["NWBFile"]["session_start_time"] = required

    def get_conversion_options_schema(self) -> dict:
        """NeuroConv's schema (options keyed by interface name) plus flat options such as ``stub_test``."""
        schema = super().get_conversion_options_schema()
        schema["properties"].update(flat_options_schema(self.data_interface_objects))
        return schema

    def validate_conversion_options(self, conversion_options: dict | None) -> None:
        """Validate ``conversion_options`` after turning flat options into per-interface ones."""
        super().validate_conversion_options(
            expand_flat_options(self.data_interface_objects, conversion_options)
        )

    def add_to_nwbfile(
        self, nwbfile: NWBFile, metadata: dict | None = None, conversion_options: dict | None = None
    ) -> None:
        """NeuroConv's ``add_to_nwbfile``, after reading every converted stream once (:meth:`read_streams`).

        ``conversion_options`` are keyed by interface name (a stream, ``Participant``, ``<stream>_ts``), and may
        also hold flat options (``{"stub_test": True}``) that apply to every interface taking them.
        """
        self.read_streams()
        conversion_options = expand_flat_options(self.data_interface_objects, conversion_options)
        super().add_to_nwbfile(nwbfile=nwbfile, metadata=metadata, conversion_options=conversion_options)

    def run_conversion(
        self,
        nwbfile_path: str | Path | None = None,
        nwbfile: NWBFile | None = None,
        metadata: dict | None = None,
        overwrite: bool = False,
        backend: Literal["hdf5", "zarr"] | None = None,
        backend_configuration=None,
        conversion_options: dict | None = None,
        append_on_disk_nwbfile: bool = False,
        compression: str | None = None,
    ) -> None:
        """NeuroConv's ``run_conversion``, writing through a temporary file so a failure leaves no partial file.

        See :meth:`neuroconv.NWBConverter.run_conversion` for the parameters. Appending to an existing file
        writes in place, as NeuroConv does. ``compression`` applies a preset to every dataset
        (:func:`~neuroconv_brand.nwb.compression_presets.apply_compression_preset`): ``"default"`` (NeuroConv's
        gzip), ``"fast"`` (multi-threaded Blosc LZ4; reading needs ``import hdf5plugin``) or ``"none"``.
        """
        if compression is not None:
            if backend_configuration is not None or nwbfile is not None or append_on_disk_nwbfile:
                raise ConfigurationError(
                    "compression= builds its own backend configuration: it cannot be combined with "
                    "backend_configuration=, nwbfile= or append_on_disk_nwbfile=."
                )
            self.write(
                nwbfile_path,
                metadata=metadata,
                conversion_options=conversion_options,
                backend=backend or "hdf5",
                compression=compression,
                overwrite=overwrite,
            )
            return
        options = dict(
            nwbfile=nwbfile,
            metadata=metadata,
            backend=backend,
            backend_configuration=backend_configuration,
            conversion_options=conversion_options,
        )
        if metadata is not None:
            with metadata_errors_explained():
                self.validate_metadata(metadata=metadata, append_mode=append_on_disk_nwbfile)
        if nwbfile_path is not None:
            check_output_is_not_input(nwbfile_path, self.input_files())
        if append_on_disk_nwbfile or nwbfile_path is None:
            super().run_conversion(
                nwbfile_path=nwbfile_path,
                overwrite=overwrite,
                append_on_disk_nwbfile=append_on_disk_nwbfile,
                **options,
            )
            return
        refuse_existing_output(nwbfile_path, overwrite)
        # Written through a temporary file by _write_nwbfile (write_nwbfile), once NeuroConv's checks passed.
        super().run_conversion(nwbfile_path=nwbfile_path, overwrite=True, **options)

    def _write_nwbfile(
        self,
        nwbfile_path: str | Path,
        nwbfile: NWBFile | None,
        metadata: dict,
        backend: Literal["hdf5", "zarr"] | None,
        backend_configuration,
        conversion_options: dict | None,
    ) -> None:
        # NeuroConv's step of run_conversion that builds and writes a new file, writing with write_nwbfile
        # (atomic, gzip on every core) instead of configure_and_write_nwbfile; run_conversion checked the rest.
        if nwbfile_path is None:
            return super()._write_nwbfile(
                nwbfile_path, nwbfile, metadata, backend, backend_configuration, conversion_options
            )
        if nwbfile is not None:
            self.add_to_nwbfile(nwbfile=nwbfile, metadata=metadata, conversion_options=conversion_options)
        else:
            nwbfile = self.create_nwbfile(metadata=metadata, conversion_options=conversion_options)
        write_nwbfile(
            nwbfile,
            nwbfile_path,
            backend=backend,
            backend_configuration=backend_configuration,
            overwrite=True,
            inputs=self.input_files(),
        )

    def write(
        self,
        nwbfile_path: str | Path,
        metadata: dict | None = None,
        conversion_options: dict | None = None,
        backend: Literal["hdf5", "zarr"] = "hdf5",
        compression: str | None = None,
        dataset_settings: dict[str, dict] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Build the file, configure its datasets (a compression preset, then per-dataset edits), write it.

        NeuroConv's customisation workflow in one call: ``create_nwbfile`` -> ``get_default_backend_configuration``
        -> a compression preset (``default``, ``fast``, ``none`` or ``<codec>[:level]``, see
        :func:`~neuroconv_brand.nwb.compression_presets.parse_compression`) -> per-dataset
        ``dataset_settings`` (location -> DatasetIOConfiguration fields, see :mod:`neuroconv_brand.nwb.backend_edits`)
        -> an atomic write.

        Raises
        ------
        ConfigurationError
            When ``dataset_settings`` name a dataset the file does not have, or settings NeuroConv rejects
            (every problem listed); nothing is written.
        """
        if metadata is None:
            metadata = self._get_metadata_for_writing()
        with metadata_errors_explained():
            self.validate_metadata(metadata=metadata)
        self.validate_conversion_options(conversion_options=conversion_options)
        self.temporally_align_data_interfaces(metadata=metadata, conversion_options=conversion_options)
        check_output_is_not_input(nwbfile_path, self.input_files())
        refuse_existing_output(nwbfile_path, overwrite)
        nwbfile = self.create_nwbfile(metadata=metadata, conversion_options=conversion_options)
        configuration = default_backend_configuration(nwbfile, backend=backend)
        if compression is not None:
            preset, codec, level = parse_compression(compression)
            apply_compression_preset(configuration, preset, codec=codec, level=level)
        if dataset_settings:
            problems = apply_dataset_edits(configuration, dataset_settings, {}, backend)
            if problems:
                raise ConfigurationError("backend configuration: " + " | ".join(problems))
        return write_nwbfile(nwbfile, nwbfile_path, backend_configuration=configuration, overwrite=overwrite)
