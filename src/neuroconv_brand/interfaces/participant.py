"""The participant, its devices and its electrodes, from BRAND's participant and devices YAML files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from neuroconv import BaseDataInterface
from neuroconv.tools.nwb_helpers import add_subject_to_nwbfile
from neuroconv.utils import DeepDict
from pynwb import NWBFile
from pynwb.device import Device, DeviceModel
from pynwb.ecephys import ElectrodeGroup

from ..errors import BrandError
from ..nwb.zarr_references import JsonZarrReferencesMixin
from ..participant.electrode_parameters import ElectrodeColumn
from ..participant.electrode_parameters import parameter_columns as read_parameter_columns
from ..participant.files import (
    MetadataFileError,
    check_implant_devices,
    electrode_layout,
    load_devices_file,
    load_participant_file,
)
from ..sources.session import BrandSession, open_session_graph
from ..timing.clocks import session_start_datetime
from ..timing.session_start import session_start_ms
from .electrodes_table import CHANNEL_NAME_DESCRIPTION, ElectrodeColumnValues, add_electrode_rows
from .spike_times import PLACEHOLDER_GROUP

_POSITION_DTYPE = np.dtype([("x", "<f8"), ("y", "<f8"), ("z", "<f8")])
_DEVICE_FIELDS = ("name", "description", "manufacturer", "model_number", "model_name", "serial_number")


class BrandParticipantInterface(JsonZarrReferencesMixin, BaseDataInterface):
    """The participant (``Subject``), devices, electrode groups and electrodes of a BRAND session.

    From the participant YAML (``metadata``/``implants``, also the capitalised pre-2022-07 spelling) and the
    devices YAML (a list of ``name``, ``electrode_qty``, ``description``, ``manufacturer``):

    * ``Subject``: ``subject_id`` = ``participant_id``; the implant date goes into the description. Species, sex
      and age are not in BRAND's files: add them to ``metadata["Subject"]`` (DANDI requires them).
    * one ``Device`` per device name used by an implant, with a ``DeviceModel`` holding its manufacturer
      (``metadata["Devices"]`` / ``metadata["DeviceModels"]``, keyed by device name);
    * one ``ElectrodeGroup`` per implant (name, location, position, device, description "<device> connected
      to <connector>" plus the implant's serial; ``metadata["Ecephys"]["ElectrodeGroups"]`` keyed by implant
      name);
    * ``electrode_qty`` electrode rows per implant, in implant order (the channel order of BRAND's streams),
      with ``location``, ``group``, ``group_name``, ``channel_name`` (the electrode number, i.e. the channel index
      in BRAND's streams, as text: NeuroConv matches electrode rows by ``group_name`` + ``channel_name``) and, where the implant has an ``array_map``, the electrode's
      position on the array in ``rel_x``/``rel_y``/``rel_z`` (um; NWB's position within the group; the
      brain-coordinate ``x``/``y``/``z`` are not known, and exportNWB's dummy ``x=y=z=index`` are not written),
      and, from a Blackrock ``.cmp`` map, its ``label``. Array-map formats: :mod:`neuroconv_brand.participant.array_maps`; a
      missing or unreadable map is a warning and that implant's electrodes get no positions.
    * with ``file_path``, the per-electrode columns of the graph's exportNWB parameters (``mask``,
      ``threshold``, ``mean``/``std`` (+ ``sbp_mean``/``sbp_std``), ``denorm_*``) from the latest entry of each
      parameter stream: :mod:`neuroconv_brand.participant.electrode_parameters`.

    Without ``participant_file``/``devices_file`` the graph's exportNWB ``participant_file``/``devices_file``
    are used (relative paths are relative to ``brand_base_dir``). Add this interface before the SpikeTimes
    interfaces, which link units to these electrodes. It shares the electrodes table with NeuroConv's recording
    interfaces in either order (:func:`~neuroconv_brand.interfaces.electrodes_table.add_electrode_rows`): a recording
    whose channels carry the implant name as ``group_name`` and the electrode number as ``channel_name`` links
    to these rows; its other channels get rows of their own.

    Parameters
    ----------
    participant_file : str, optional
        The participant YAML; default: the graph's ``participant_file`` (needs ``file_path``).
    devices_file : str, optional
        The devices YAML; default: the graph's ``devices_file``, else ``<brand_base_dir>/../Data/devices.yaml``.
    file_path : str, optional
        The BRAND source (``.rdb`` file or Redis URL/socket), for the session start time, the parameter
        streams and the graph's file paths.
    brand_base_dir : str, optional
        The BRAND base directory that relative paths in the graph are relative to.
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    verbose : bool
        Print progress.
    """

    display_name = "BRAND participant and electrodes"
    keywords = ("BRAND", "brain-computer interface", "Utah array", "electrodes")
    associated_suffixes = (".yaml", ".rdb")
    info = (
        "Participant, devices and electrodes of a BRAND session, from its participant and devices YAML files."
    )

    def __init__(
        self,
        participant_file: str | Path | None = None,
        devices_file: str | Path | None = None,
        file_path: str | Path | None = None,
        brand_base_dir: str | Path | None = None,
        derivative: str | None = None,
        redis_server_path: str | Path | None = None,
        verbose: bool = False,
    ):
        super().__init__(
            participant_file=participant_file,
            devices_file=devices_file,
            file_path=file_path,
            brand_base_dir=brand_base_dir,
            derivative=derivative,
            redis_server_path=redis_server_path,
            verbose=verbose,
        )
        self.brand_base_dir = Path(brand_base_dir) if brand_base_dir is not None else None
        self.session: BrandSession | None = None
        self.graph = None
        if file_path is not None:
            self.session, self.graph = open_session_graph(
                self, file_path, brand_base_dir, derivative, redis_server_path
            )
        self.participant_path = self._resolve(participant_file, "participant_file")
        self.devices_path = self._resolve(devices_file, "devices_file")
        self.participant = load_participant_file(self.participant_path)
        self.devices = load_devices_file(self.devices_path)
        check_implant_devices(self.participant, self.devices, self.devices_path)
        self.layout = electrode_layout(self.participant, self.devices)

    def _resolve(self, given: str | Path | None, which: str) -> Path:
        if given is not None:
            return Path(given).expanduser()
        from_graph = getattr(self.graph, which, None) if self.graph is not None else None
        if from_graph is None and which == "devices_file" and self.brand_base_dir is not None:
            return self.brand_base_dir / ".." / "Data" / "devices.yaml"  # exportNWB's default
        if from_graph is None:
            origin = (
                "the graph has no exportNWB " + which if self.graph is not None else "no file_path was given"
            )
            raise MetadataFileError(f"no {which}: {origin}; pass {which}=<path to the YAML file>.")
        path = Path(from_graph).expanduser()
        if path.is_absolute():
            return path
        if self.brand_base_dir is None:
            raise MetadataFileError(
                f"the graph's {which} '{from_graph}' is relative to the BRAND base directory; pass brand_base_dir, "
                f"or {which}=<path>."
            )
        return self.brand_base_dir / path

    @property
    def n_electrodes(self) -> int:
        """Rows of the electrodes table (sum of the implants' ``electrode_qty``)."""
        return len(self.layout)

    def input_files(self) -> dict[str, Path]:
        """The files this interface reads, by description (an output may not be one of them)."""
        files = {"the participant file": self.participant_path, "the devices file": self.devices_path}
        for implant in self.participant.implants:
            if implant.array_map is not None:
                files[f"the array map of implant '{implant.name}'"] = implant.array_map
        return files

    def get_metadata(self) -> DeepDict:
        """Subject, Devices, DeviceModels and Ecephys.ElectrodeGroups (dict-based, editable before writing)."""
        metadata = super().get_metadata()
        if self.session is not None:
            # The same session-level values as the stream interfaces, so merge order in a converter is moot.
            metadata["NWBFile"]["session_start_time"] = session_start_datetime(
                session_start_ms(self.session, self.graph)
            )
            metadata["NWBFile"]["session_description"] = self.graph.description or "BRAND session"
            if self.graph.graph_name:
                metadata["NWBFile"]["session_id"] = self.graph.graph_name
        participant = self.participant
        subject_id = participant.participant_id or (
            self.graph.participant_id if self.graph is not None else None
        )
        if subject_id:
            metadata["Subject"]["subject_id"] = subject_id
        if participant.implant_date:
            metadata["Subject"]["description"] = (
                f"BRAND participant {subject_id}; cortical implant date {participant.implant_date}."
            )
        for implant in participant.implants:
            device = self.devices[implant.device]
            device_entry = {"name": device.name}
            if device.description:
                device_entry["description"] = device.description
            if device.manufacturer:
                metadata["DeviceModels"][device.name] = {
                    "name": device.name,
                    "model_number": device.name,
                    "manufacturer": device.manufacturer,
                    **({"description": device.description} if device.description else {}),
                }
                device_entry["device_model_metadata_key"] = device.name
            metadata["Devices"][device.name] = device_entry
            description = (
                f"{implant.device} connected to {implant.connector}" if implant.connector else implant.device
            )
            if implant.serial:
                description += f" (serial {implant.serial})"
            group = {
                "name": implant.name,
                "description": description,
                "location": implant.location or "unknown",
                "device_metadata_key": device.name,
            }
            if implant.position is not None:
                group["position"] = list(implant.position)
            metadata["Ecephys"]["ElectrodeGroups"][implant.name] = group
        return metadata

    def get_metadata_schema(self) -> dict:
        """The base schema plus ``Ecephys.ElectrodeGroups`` keyed by implant name."""
        schema = super().get_metadata_schema()
        group = {
            "type": "object",
            "required": ["name", "description", "location", "device_metadata_key"],
            "properties": {
                "name": {"type": "string", "pattern": "^[^/]*$"},
                "description": {"type": "string"},
                "location": {"type": "string"},
                "device_metadata_key": {"type": "string"},
                "position": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
            },
            "additionalProperties": False,
        }
        schema["properties"]["Ecephys"] = {
            "type": "object",
            "properties": {"ElectrodeGroups": {"type": "object", "additionalProperties": group}},
        }
        return schema

    def add_to_nwbfile(
        self,
        nwbfile: NWBFile,
        metadata: dict | None = None,
        *,
        parameter_columns: bool = True,
        stub_test: bool = False,
    ) -> None:
        """Add the subject (if the file has none), devices, electrode groups (unless present) and electrodes.

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built. Electrodes that other interfaces wrote stay: rows with the same ``group_name``
            (implant name) and ``channel_name`` (electrode number) are reused, the others are appended.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited.
        parameter_columns : bool
            Add the ``mask``/``threshold``/``mean``/``std``/``denorm_*`` columns from the graph's parameter
            streams and files (needs ``file_path``).
        stub_test : bool
            Accepted like every interface's (NeuroConv's runner passes it to all); the electrodes are always
            written whole.
        """
        metadata = metadata if metadata is not None else self.get_metadata()
        if PLACEHOLDER_GROUP in nwbfile.electrode_groups:
            raise BrandError(
                f"the NWB file already has placeholder electrodes (group '{PLACEHOLDER_GROUP}') that a SpikeTimes "
                "interface made, and its units link to them; add BrandParticipantInterface before the interfaces "
                "that need electrodes (SpikeTimes streams)."
            )
        if nwbfile.subject is None and metadata.get("Subject", {}).get("subject_id"):
            add_subject_to_nwbfile(nwbfile=nwbfile, metadata={"Subject": metadata["Subject"]})
        groups = [
            self._electrode_group(nwbfile, metadata, implant.name) for implant in self.participant.implants
        ]
        layout = self.layout
        group_of_row = [groups[index] for index in layout.implant]
        # From the metadata, not the group: a group another interface made may say "unknown".
        group_metadata = metadata["Ecephys"]["ElectrodeGroups"]
        locations = [group_metadata[implant.name]["location"] for implant in self.participant.implants]
        columns = {
            "location": ElectrodeColumnValues(
                "the location of channel within the subject e.g. brain region",
                [locations[index] for index in layout.implant],
            ),
            "group_name": ElectrodeColumnValues(
                "the name of the ElectrodeGroup this electrode is a part of",
                [group.name for group in group_of_row],
            ),
            # The electrode number (the channel index of BRAND's streams) as text, NeuroConv's row key with
            # group_name.
            "channel_name": ElectrodeColumnValues(
                CHANNEL_NAME_DESCRIPTION, [str(row) for row in range(len(layout))]
            ),
        }
        if layout.positions is not None:
            for axis, name in enumerate(("rel_x", "rel_y", "rel_z")):
                columns[name] = ElectrodeColumnValues(
                    f"{name[-1]} position of the electrode on its array (um), from the implant's array map",
                    layout.positions[:, axis].copy(),
                )
        if layout.labels is not None:
            columns["label"] = ElectrodeColumnValues(
                "the electrode's label in the implant's Blackrock .cmp map (what Central shows)",
                list(layout.labels),
            )
        if parameter_columns and self.graph is not None:
            for column in self.parameter_columns():
                columns[column.name] = ElectrodeColumnValues(column.description, column.data)
        add_electrode_rows(nwbfile, group_of_row, columns)

    def parameter_columns(self) -> list[ElectrodeColumn]:
        """The graph's per-electrode parameter columns (empty without ``file_path``), with warnings for bad ones."""
        if self.graph is None:
            return []
        return read_parameter_columns(
            self.graph.export_parameters, self.session.source, self.n_electrodes, self.brand_base_dir
        )

    def _electrode_group(self, nwbfile: NWBFile, metadata: dict, implant: str) -> ElectrodeGroup:
        entry = dict(metadata.get("Ecephys", {}).get("ElectrodeGroups", {}).get(implant) or {})
        if not entry:
            raise BrandError(f"metadata['Ecephys']['ElectrodeGroups'] has no entry for implant '{implant}'.")
        if entry["name"] in nwbfile.electrode_groups:
            # Written by another interface (e.g. a recording of the same array): the rows share it.
            return nwbfile.electrode_groups[entry["name"]]
        device = _device(nwbfile, metadata, entry.pop("device_metadata_key"))
        position = entry.pop("position", None)
        if position is not None:
            # A (1,) compound array: hdmf_zarr 0.13 cannot write the scalar compound pynwb makes of a tuple.
            entry["position"] = np.array([tuple(float(value) for value in position)], dtype=_POSITION_DTYPE)
        return nwbfile.create_electrode_group(device=device, **entry)


def _device(nwbfile: NWBFile, metadata: dict, key: str) -> Device:
    entry = metadata.get("Devices", {}).get(key)
    if entry is None:
        raise BrandError(
            f"metadata['Devices'] has no entry '{key}' (named by an electrode group's device_metadata_key)."
        )
    if entry["name"] in nwbfile.devices:
        return nwbfile.devices[entry["name"]]
    kwargs = {field: entry[field] for field in _DEVICE_FIELDS if field in entry}
    model_key = entry.get("device_model_metadata_key")
    if model_key is not None:
        model_entry = metadata.get("DeviceModels", {}).get(model_key)
        if model_entry is None:
            raise BrandError(
                f"metadata['DeviceModels'] has no entry '{model_key}' (named by device '{entry['name']}')."
            )
        model = nwbfile.device_models.get(model_entry["name"]) if nwbfile.device_models else None
        if model is None:
            model = DeviceModel(
                **{
                    k: v
                    for k, v in model_entry.items()
                    if k in ("name", "manufacturer", "model_number", "description")
                }
            )
            nwbfile.add_device_model(model)
        kwargs["model"] = model
    device = Device(**kwargs)
    nwbfile.add_device(device)
    return device
