"""BrandParticipantInterface: subject, devices, electrode groups and electrodes equal to the generator's truth."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pynwb
import pytest
import redis
import yaml
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand.errors import BrandError, MetadataFileError
from neuroconv_brand.interfaces.participant import BrandParticipantInterface
from neuroconv_brand.testing import SessionConfig, SyntheticSession, save_session_rdb
from neuroconv_brand.testing.infra_streams import enabled_channels

SUBJECT = {"species": "Homo sapiens", "sex": "F", "age": "P52Y"}
BACKENDS = ("hdf5", "zarr")
SMALL = dict(duration_s=0.5, task=False, sbp=False)


def save_mutated_rdb(
    config: SessionConfig, folder: Path, mutate: Callable[[redis.Redis, SyntheticSession], None]
) -> tuple[Path, SyntheticSession]:
    """Generate ``config``, let ``mutate`` change the database, save it as ``folder/session.rdb``."""
    return folder / "session.rdb", save_session_rdb(
        config, folder / "session.rdb", folder, before_save=mutate
    )


def export_parameters(model: dict) -> dict:
    return model["derivatives"]["exportNWB"]["parameters"]


def publish_parameters(client: redis.Redis, truth: SyntheticSession, **changes) -> None:
    """A new supergraph entry with changed exportNWB parameters (None removes one)."""
    model = copy.deepcopy(truth.supergraph)
    parameters = export_parameters(model)
    for name, value in changes.items():
        if value is None:
            parameters.pop(name, None)
        else:
            parameters[name] = value
    client.xadd("supergraph_stream", {"data": json.dumps(model)})


def write_nwb(interface: BrandParticipantInterface, path: Path, backend: str = "hdf5", edit=None) -> Path:
    metadata = interface.get_metadata()
    metadata["Subject"].update(SUBJECT)
    if edit is not None:
        edit(metadata)
    interface.run_conversion(nwbfile_path=str(path), metadata=metadata, backend=backend, overwrite=True)
    return path


def truth_parameter(truth: SyntheticSession, stream: str, field: str) -> np.ndarray:
    return truth.streams[stream].fields[field][0, 0, :]


def electrode_column(nwbfile, name: str) -> np.ndarray:
    return np.asarray(nwbfile.electrodes[name].data[:])


# ------------------------------------------------------------------------------------------- values
@pytest.mark.parametrize("backend", BACKENDS)
def test_electrode_rows_and_columns_equal_truth(clean_session, tmp_path, backend, read_zarr_in_fresh_process):
    truth = clean_session.truth
    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    path = write_nwb(interface, tmp_path / "participant.nwb", backend)
    nwbfile = pynwb.read_nwb(path)
    electrodes = truth.electrodes
    if backend == "zarr":  # the interface's own run_conversion writes JSON references
        assert read_zarr_in_fresh_process(path)["electrode_groups"] == [e.implant for e in electrodes]
    assert len(nwbfile.electrodes) == len(electrodes) == 128
    assert electrode_column(nwbfile, "group_name").astype(str).tolist() == [e.implant for e in electrodes]
    assert electrode_column(nwbfile, "location").astype(str).tolist() == [e.location for e in electrodes]
    # NeuroConv's row key, with group_name: the electrode number (channel index in BRAND's streams) as text
    assert electrode_column(nwbfile, "channel_name").astype(str).tolist() == [str(i) for i in range(128)]
    assert [nwbfile.electrodes["group"][row].name for row in (0, 63, 64, 127)] == ["array 1"] * 2 + [
        "array 2"
    ] * 2
    positions = np.stack([electrode_column(nwbfile, axis) for axis in ("rel_x", "rel_y", "rel_z")], axis=1)
    np.testing.assert_array_equal(positions, np.array([e.position for e in electrodes]))
    assert "x" not in nwbfile.electrodes.colnames  # no dummy brain coordinates


def test_mask_threshold_mean_std_are_read_not_na(clean_session, tmp_path):
    truth = clean_session.truth
    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    nwbfile = pynwb.read_nwb(write_nwb(interface, tmp_path / "columns.nwb"))
    expected_mask = np.zeros(128)
    expected_mask[enabled_channels(128)] = 1.0
    mask = electrode_column(nwbfile, "mask")
    assert mask.dtype == np.float64 and 0.0 in mask
    np.testing.assert_array_equal(mask, expected_mask)
    np.testing.assert_array_equal(
        electrode_column(nwbfile, "threshold"), truth_parameter(truth, "thresholds", "thresholds")
    )
    means = truth_parameter(truth, "normalization_parameters", "means")
    np.testing.assert_array_equal(electrode_column(nwbfile, "mean"), means)
    np.testing.assert_array_equal(
        electrode_column(nwbfile, "std"), truth_parameter(truth, "normalization_parameters", "stds")
    )
    for name in ("threshold", "mean", "std"):
        assert electrode_column(nwbfile, name).dtype == np.float64
    assert "sbp_mean" not in nwbfile.electrodes.colnames


def test_subject_is_written_from_participant_id(clean_session, tmp_path):
    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    subject = pynwb.read_nwb(write_nwb(interface, tmp_path / "subject.nwb")).subject
    assert subject.subject_id == "t0"
    assert "cortical implant date 2022-05-09" in subject.description
    assert (subject.species, subject.sex, subject.age) == ("Homo sapiens", "F", "P52Y")


def test_devices_are_created_once_per_name_and_groups_describe_implants(clean_session, tmp_path):
    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    nwbfile = pynwb.read_nwb(write_nwb(interface, tmp_path / "devices.nwb"))
    assert list(nwbfile.devices) == ["NeuroPort8x8"]
    device = nwbfile.devices["NeuroPort8x8"]
    assert device.description == "64-channel Utah array, 8x8 grid"
    assert device.model.manufacturer == "Blackrock Neurotech"
    group = nwbfile.electrode_groups["array 2"]
    assert group.device is device
    assert group.location == "left precentral gyrus, area 4"
    assert group.description == "NeuroPort8x8 connected to pedestal B, bank 2 (serial 1234567891)"
    assert tuple(np.asarray(group.position[0]).tolist()) == (-31.0, -2.0, 58.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_metadata_edits_name_and_locate_the_groups(clean_session, tmp_path, backend):
    def edit(metadata):
        metadata["Ecephys"]["ElectrodeGroups"]["array 1"].update(name="lateral", location="area 4")
        metadata["Devices"]["NeuroPort8x8"]["description"] = "edited"

    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    nwbfile = pynwb.read_nwb(write_nwb(interface, tmp_path / "edited.nwb", backend, edit))
    assert sorted(nwbfile.electrode_groups) == ["array 2", "lateral"]
    assert (
        electrode_column(nwbfile, "group_name").astype(str).tolist()[62:66]
        == ["lateral"] * 2 + ["array 2"] * 2
    )
    assert electrode_column(nwbfile, "location").astype(str).tolist()[0] == "area 4"
    assert nwbfile.devices["NeuroPort8x8"].description == "edited"


def test_explicit_files_without_a_source_give_electrodes_but_no_parameter_columns(clean_session, tmp_path):
    truth = clean_session.truth
    interface = BrandParticipantInterface(
        participant_file=str(truth.participant_file), devices_file=str(truth.devices_file)
    )
    metadata = interface.get_metadata()
    assert "session_start_time" not in metadata["NWBFile"]
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile, metadata)
    assert len(nwbfile.electrodes) == 128
    assert {"mask", "threshold", "mean", "std"}.isdisjoint(nwbfile.electrodes.colnames)


@pytest.fixture(scope="module")
def norm_bp_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("norm_bp")
    truth = save_session_rdb(SessionConfig(**SMALL, norm_bp=True, seed=7), folder / "norm_bp.rdb", folder)
    return folder / "norm_bp.rdb", truth


def test_norm_bp_writes_both_column_pairs(norm_bp_session, tmp_path):
    rdb, truth = norm_bp_session
    nwbfile = pynwb.read_nwb(write_nwb(BrandParticipantInterface(file_path=str(rdb)), tmp_path / "bp.nwb"))
    means = truth_parameter(truth, "normalization_parameters", "means")
    stds = truth_parameter(truth, "normalization_parameters", "stds")
    assert len(means) == 256
    np.testing.assert_array_equal(electrode_column(nwbfile, "mean"), means[:128])
    np.testing.assert_array_equal(electrode_column(nwbfile, "sbp_mean"), means[128:])
    np.testing.assert_array_equal(electrode_column(nwbfile, "std"), stds[:128])
    np.testing.assert_array_equal(electrode_column(nwbfile, "sbp_std"), stds[128:])
    assert "norm_bp" in nwbfile.electrodes["sbp_mean"].description


# ----------------------------------------------------------------------------- graph paths and eras
@pytest.fixture(scope="module")
def era_2024_session(tmp_path_factory):
    folder = tmp_path_factory.mktemp("era2024")
    truth = save_session_rdb(SessionConfig(**SMALL, era="2024", array_map=False), folder / "s.rdb", folder)
    return folder / "s.rdb", truth


def test_relative_graph_paths_are_resolved_against_brand_base_dir(era_2024_session):
    rdb, truth = era_2024_session
    interface = BrandParticipantInterface(file_path=str(rdb), brand_base_dir=str(truth.brand_base_dir))
    assert interface.participant_path.resolve() == truth.participant_file.resolve()
    assert interface.devices_path.resolve() == truth.devices_file.resolve()
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile)
    assert len(nwbfile.electrodes) == 128
    assert not {"rel_x", "rel_y", "rel_z"} & set(nwbfile.electrodes.colnames)  # no array maps in this session
    np.testing.assert_array_equal(
        nwbfile.electrodes["threshold"].data, truth_parameter(truth, "thresholds", "thresholds")
    )


def test_relative_graph_path_without_brand_base_dir_is_a_clear_error(era_2024_session):
    rdb, _ = era_2024_session
    with pytest.raises(
        MetadataFileError,
        match=r"the graph's participant_file '\.\./config/t0/t0\.yaml' is relative .* pass brand_base_dir",
    ):
        BrandParticipantInterface(file_path=str(rdb))


def test_no_participant_file_and_no_source_is_a_clear_error():
    with pytest.raises(
        MetadataFileError, match="no participant_file: no file_path was given; pass participant_file="
    ):
        BrandParticipantInterface()


def test_missing_participant_file_is_a_clear_error(tmp_path, clean_session):
    with pytest.raises(MetadataFileError, match=r"participant file .*absent\.yaml does not exist"):
        BrandParticipantInterface(
            participant_file=str(tmp_path / "absent.yaml"), devices_file=str(clean_session.truth.devices_file)
        )


def test_implant_with_unknown_device_is_a_clear_error(tmp_path, clean_session):
    data = yaml.safe_load(clean_session.truth.participant_file.read_text())
    data["implants"][1]["device"] = "NeuroPort9x9"
    participant = tmp_path / "t0.yaml"
    participant.write_text(yaml.safe_dump(data))
    with pytest.raises(
        MetadataFileError, match=r"implants\[1\]\.device: 'NeuroPort9x9' is not in devices\.yaml"
    ):
        BrandParticipantInterface(participant_file=str(participant), file_path=str(clean_session.rdb_path))


def test_rows_already_in_the_table_are_reused(clean_session):
    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    nwbfile = mock_NWBFile()
    interface.add_to_nwbfile(nwbfile)
    interface.add_to_nwbfile(nwbfile)
    assert len(nwbfile.electrodes) == 128
    assert list(nwbfile.electrode_groups) == ["array 1", "array 2"]


def test_an_existing_table_gets_the_missing_rows_and_columns(clean_session):
    nwbfile = mock_NWBFile()
    device = nwbfile.create_device(name="headstage")
    other = nwbfile.create_electrode_group(name="other", description="d", location="l", device=device)
    array1 = nwbfile.create_electrode_group(
        name="array 1", description="d", location="unknown", device=device
    )
    nwbfile.add_electrode_column(name="channel_name", description="unique channel reference")
    nwbfile.add_electrode_column(name="impedance_label", description="a column only the other side has")
    for group, channel in ((other, "0"), (array1, "5"), (other, "1")):
        nwbfile.add_electrode(
            group=group,
            group_name=group.name,
            location=group.location,
            channel_name=channel,
            impedance_label="x",
        )
    BrandParticipantInterface(file_path=str(clean_session.rdb_path)).add_to_nwbfile(nwbfile)
    table = nwbfile.electrodes.to_dataframe()
    assert len(table) == 3 + 127  # electrode 5 of array 1 was already there
    assert table["channel_name"].tolist()[:3] == ["0", "5", "1"]
    assert table["channel_name"].tolist()[3:] == [str(i) for i in range(128) if i != 5]
    assert table["impedance_label"].tolist() == ["x"] * 3 + [""] * 127
    truth = clean_session.truth.electrodes
    assert table["location"].tolist()[1] == truth[5].location  # NeuroConv's placeholder replaced
    thresholds = table["threshold"].to_numpy()
    assert np.isnan(thresholds[[0, 2]]).all()
    assert thresholds[1] == truth_parameter(clean_session.truth, "thresholds", "thresholds")[5]
    assert nwbfile.electrode_groups["array 1"] is array1  # the existing group is reused


def test_an_existing_int_column_is_a_clear_error(clean_session):
    nwbfile = mock_NWBFile()
    device = nwbfile.create_device(name="headstage")
    group = nwbfile.create_electrode_group(name="other", description="d", location="l", device=device)
    nwbfile.add_electrode_column(name="port", description="an int column")
    nwbfile.add_electrode(group=group, group_name="other", location="l", port=3)
    interface = BrandParticipantInterface(file_path=str(clean_session.rdb_path))
    with pytest.raises(BrandError) as error:
        interface.add_to_nwbfile(nwbfile)
    assert str(error.value) == (
        "the electrodes table has a column 'port' of type int, which has no null value for the rows "
        "BrandParticipantInterface adds; store it as float (NaN = unknown) or text, or add "
        "BrandParticipantInterface before the interface that writes it."
    )


# --------------------------------------------------------------------------- bad parameter sources
@pytest.fixture(scope="module")
def bad_parameters_session(tmp_path_factory):
    """Latest parameter entries that do not fit, a missing stream, and a missing fallback file."""

    def mutate(client, truth):
        client.xadd("z_mask_stream", {"channels": np.array([3, 200], dtype=np.uint16).tobytes()})
        client.xadd("thresholds", {"thresholds": np.ones(127).tobytes()})
        client.xadd("normalization_parameters", {"means": np.ones(128).tobytes()})
        publish_parameters(client, truth, denorm_stream="gone_stream", norm_file="/nowhere/norm.yaml")

    return save_mutated_rdb(SessionConfig(**SMALL), tmp_path_factory.mktemp("bad_parameters"), mutate)


@pytest.fixture(scope="module")
def bad_parameters_columns(bad_parameters_session):
    rdb, _ = bad_parameters_session
    interface = BrandParticipantInterface(file_path=str(rdb))
    with pytest.warns(UserWarning) as record:
        columns = {column.name for column in interface.parameter_columns()}
    return columns, [str(warning.message) for warning in record]


@pytest.mark.parametrize(
    "expected",
    [
        r"channel mask stream 'z_mask_stream' \(ch_mask_stream\) enables channel\(s\) \[200\] but the electrodes table has 128 rows",
        r"parameter stream 'thresholds' \(thresh_stream, latest entry\) holds 127 value\(s\) but the electrodes table has 128 rows",
        r"norm_file /nowhere/norm.yaml does not exist",
        r"parameter stream 'normalization_parameters' \(norm_stream\): the latest entry lacks \['stds'\]",
        r"parameter stream 'gone_stream' \(denorm_stream\) is not in the source",
    ],
)
def test_unusable_parameter_sources_warn_and_leave_the_column_out(bad_parameters_columns, expected):
    columns, messages = bad_parameters_columns
    assert columns == set()
    assert any(re.search(expected, message) for message in messages), messages


@pytest.fixture(scope="module")
def file_parameters_session(tmp_path_factory):
    """Thresholds from a relative thresh_file, norm_stream as a list, denorm from a norm_bp-sized file."""
    folder = tmp_path_factory.mktemp("file_parameters")
    rng = np.random.default_rng(9)
    values = {
        "thresholds": rng.normal(size=128),
        "means": rng.normal(size=256),
        "stds": rng.uniform(1, 2, 256),
    }
    (folder / "params").mkdir()
    (folder / "params" / "thresholds.yaml").write_text(
        yaml.safe_dump({"thresholds": values["thresholds"].tolist()})
    )
    (folder / "denorm.yaml").write_text(
        yaml.safe_dump({"means": values["means"].tolist(), "stds": values["stds"].tolist()})
    )

    def mutate(client, truth):
        client.xadd("z_mask_stream", {"channels": np.arange(10, dtype=np.uint16).tobytes()})
        publish_parameters(
            client,
            truth,
            thresh_stream=None,
            thresh_file="params/thresholds.yaml",
            norm_stream=["missing_norm", "normalization_parameters"],
            denorm_file=str(folder / "denorm.yaml"),
        )

    rdb, truth = save_mutated_rdb(SessionConfig(**SMALL), folder, mutate)
    return rdb, truth, folder, values


def test_parameter_files_lists_and_latest_entries(file_parameters_session):
    rdb, truth, folder, values = file_parameters_session
    interface = BrandParticipantInterface(file_path=str(rdb), brand_base_dir=str(folder))
    with pytest.warns(
        UserWarning, match=r"parameter stream 'missing_norm' \(norm_stream\) is not in the source"
    ):
        columns = {column.name: column for column in interface.parameter_columns()}
    assert list(columns) == [
        "mask",
        "threshold",
        "mean",
        "std",
        "denorm_mean",
        "denorm_std",
        "denorm_sbp_mean",
        "denorm_sbp_std",
    ]
    np.testing.assert_array_equal(
        columns["mask"].data, (np.arange(128) < 10).astype(float)
    )  # the latest mask entry
    np.testing.assert_array_equal(columns["threshold"].data, values["thresholds"])
    assert "params/thresholds.yaml" in columns["threshold"].description
    np.testing.assert_array_equal(
        columns["mean"].data, truth_parameter(truth, "normalization_parameters", "means")
    )
    np.testing.assert_array_equal(columns["denorm_mean"].data, values["means"][:128])
    np.testing.assert_array_equal(columns["denorm_sbp_std"].data, values["stds"][128:])


def test_nwbinspector_reports_nothing_at_best_practice_violation(clean_session, tmp_path):
    path = write_nwb(
        BrandParticipantInterface(file_path=str(clean_session.rdb_path)), tmp_path / "inspect.nwb"
    )
    messages = list(
        inspect_nwbfile(
            str(path), config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    assert messages == []


# --------------------------------------------------------------------------------------- mixins
class TestParticipantInterfaceMixins(DataInterfaceTestMixin):
    data_interface_cls = BrandParticipantInterface
    interface_kwargs: dict = {}

    @pytest.fixture(autouse=True)
    def _session(self, clean_session):
        type(self).interface_kwargs = dict(file_path=str(clean_session.rdb_path))
        self.truth = clean_session.truth

    def edit_metadata(self, metadata: dict) -> dict:
        metadata["Subject"].update(SUBJECT)
        return metadata

    def check_extracted_metadata(self, metadata: dict):
        assert metadata["Subject"]["subject_id"] == "t0"
        assert list(metadata["Ecephys"]["ElectrodeGroups"]) == ["array 1", "array 2"]
        assert metadata["NWBFile"]["session_start_time"].timestamp() * 1000 == self.truth.session_start_ms

    def check_read_nwb(self, nwbfile_path: str):
        nwbfile = pynwb.read_nwb(nwbfile_path)
        assert np.asarray(nwbfile.electrodes["group_name"].data[:]).astype(str).tolist() == [
            e.implant for e in self.truth.electrodes
        ]
        assert nwbfile.subject.subject_id == "t0"
