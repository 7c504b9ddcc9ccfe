"""Participant/devices YAML and array maps: what is read, and a clear error for each kind of bad file."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroconv_brand.errors import BrandError, GraphError
from neuroconv_brand.participant.files import (
    MetadataFileError,
    check_implant_devices,
    electrode_layout,
    load_array_map,
    load_devices_file,
    load_participant_file,
)
from neuroconv_brand.testing import SessionConfig
from neuroconv_brand.testing.definitions import build_graph
from neuroconv_brand.testing.yaml_files import write_session_files

DEVICES = [
    {
        "name": "NeuroPort10x10",
        "electrode_qty": 96,
        "description": "96 ch",
        "manufacturer": "Blackrock Neurotech",
    },
    {
        "name": "NeuroPort8x8",
        "electrode_qty": 64,
        "description": "64 ch",
        "manufacturer": "Blackrock Neurotech",
    },
]


def implant(name="array 1", device="NeuroPort8x8", **extra):
    return {
        "name": name,
        "location": "area 6v",
        "position": [1.0, 2.0, 3.0],
        "device": device,
        "connector": "A",
        **extra,
    }


def write(path: Path, content) -> Path:
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


@pytest.fixture
def devices_file(tmp_path) -> Path:
    return write(tmp_path / "devices.yaml", DEVICES)


def participant(tmp_path, implants, metadata=None, key_case=str.lower) -> Path:
    content = {key_case("metadata"): metadata or {"participant_id": "t5"}, key_case("implants"): implants}
    return write(tmp_path / "t5.yaml", content)


def test_generator_files_give_the_truth_electrode_rows(tmp_path):
    config = SessionConfig(n_arrays=3, channels_per_array=96)
    files = write_session_files(config, build_graph(config), tmp_path)
    loaded = load_participant_file(files.participant_file)
    devices = load_devices_file(files.devices_file)
    check_implant_devices(loaded, devices, files.devices_file)
    layout = electrode_layout(loaded, devices)

    assert loaded.participant_id == "t0"
    assert loaded.implant_date == "2022-05-09"
    assert [i.name for i in loaded.implants] == ["array 1", "array 2", "array 3"]
    assert loaded.implants[1].position == (-31.0, -2.0, 58.0)
    assert loaded.implants[2].serial == "1234567892"
    assert len(layout) == len(files.electrodes) == 288
    names = [loaded.implants[i].name for i in layout.implant]
    assert names == [e.implant for e in files.electrodes]
    assert layout.index_in_array.tolist() == [e.index_in_array for e in files.electrodes]
    np.testing.assert_array_equal(layout.positions, np.array([e.position for e in files.electrodes]))


def test_capitalised_pre_2022_07_metadata_and_implants_are_read(tmp_path, devices_file):
    path = participant(tmp_path, [implant(), implant("array 2", "NeuroPort10x10")], key_case=str.capitalize)
    loaded = load_participant_file(path)
    layout = electrode_layout(loaded, load_devices_file(devices_file))
    assert loaded.participant_id == "t5"
    assert len(layout) == 64 + 96
    assert layout.positions is None


def test_array_map_path_is_relative_to_the_participant_file_and_xy_maps_get_z_zero(tmp_path, devices_file):
    (tmp_path / "maps").mkdir()
    rows = "\n".join(f"{e},{e % 8 * 10.0},{e // 8 * 10.0}" for e in reversed(range(64)))
    write(tmp_path / "maps" / "a1.csv", "electrode,x,y\n" + rows + "\n")
    path = participant(tmp_path, [implant(array_map="maps/a1.csv"), implant("array 2", "NeuroPort10x10")])
    layout = electrode_layout(load_participant_file(path), load_devices_file(devices_file))
    assert layout.positions.shape == (160, 3)
    np.testing.assert_array_equal(layout.positions[9], [10.0, 10.0, 0.0])
    assert np.isnan(layout.positions[64:]).all()  # the second implant has no map


# ------------------------------------------------------------------------------- bad participant files
def test_missing_participant_file_names_the_path(tmp_path):
    with pytest.raises(MetadataFileError, match=r"participant file .*nope\.yaml does not exist"):
        load_participant_file(tmp_path / "nope.yaml")


def test_participant_yaml_syntax_error_names_line(tmp_path):
    path = write(tmp_path / "t5.yaml", "metadata: {participant_id: t5\nimplants: [\n")
    with pytest.raises(MetadataFileError, match=r"t5\.yaml: YAML syntax error at line \d+, column \d+"):
        load_participant_file(path)


def test_several_schema_problems_are_reported_together(tmp_path):
    bad = implant()
    del bad["device"]
    path = participant(tmp_path, [bad, implant("array 2", position=[1])])
    with pytest.raises(
        MetadataFileError, match=r"has 2 problems:\n.*implants\[0\].*\n.*implants\[1\]\.position"
    ):
        load_participant_file(path)


def test_metadata_file_error_is_a_graph_error_and_a_brand_error(tmp_path):
    with pytest.raises(GraphError):
        load_participant_file(tmp_path / "nope.yaml")
    assert issubclass(MetadataFileError, BrandError)


@pytest.mark.parametrize("content", ["just text", {"metadata": {"participant_id": "t5"}}, {"implants": []}])
def test_participant_file_without_implants_is_rejected(tmp_path, content):
    path = write(tmp_path / "t5.yaml", content)
    with pytest.raises(MetadataFileError, match=r"t5\.yaml"):
        load_participant_file(path)


@pytest.mark.parametrize("missing", ["name", "device", "location"])
def test_implant_without_name_device_or_location(tmp_path, missing):
    bad = implant()
    del bad[missing]
    path = participant(tmp_path, [implant(), bad])
    with pytest.raises(
        MetadataFileError, match=rf"at \$\.implants\[1\]: missing the required key '{missing}'"
    ):
        load_participant_file(path)


@pytest.mark.parametrize("position", [[1.0, 2.0], "left", [1, "a", 3]])
def test_implant_position_must_be_three_numbers(tmp_path, position):
    path = participant(tmp_path, [implant(position=position)])
    with pytest.raises(MetadataFileError, match=r"t5\.yaml: at \$\.implants\[0\]\.position.*Fix: give"):
        load_participant_file(path)


def test_duplicate_implant_names_are_rejected(tmp_path):
    path = participant(tmp_path, [implant(), implant()])
    with pytest.raises(MetadataFileError, match=r"\['array 1'\] appear more than once"):
        load_participant_file(path)


def test_implant_name_with_slash_is_rejected(tmp_path):
    path = participant(tmp_path, [implant("array 1/2")])
    with pytest.raises(MetadataFileError, match="contains '/'"):
        load_participant_file(path)


def test_implant_device_not_in_devices_file(tmp_path, devices_file):
    loaded = load_participant_file(participant(tmp_path, [implant(), implant("array 2", "X")]))
    expected = (
        r"implants\[1\]\.device: 'X' is not in devices\.yaml .*; known devices: NeuroPort10x10, NeuroPort8x8"
    )
    with pytest.raises(MetadataFileError, match=expected):
        check_implant_devices(loaded, load_devices_file(devices_file), devices_file)


# ---------------------------------------------------------------------------------- bad devices files
def test_missing_devices_file(tmp_path):
    with pytest.raises(MetadataFileError, match=r"devices file .*devices\.yaml does not exist"):
        load_devices_file(tmp_path / "devices.yaml")


def test_devices_yaml_syntax_error(tmp_path):
    path = write(tmp_path / "devices.yaml", "- name: NeuroPort8x8\n  electrode_qty: [64\n")
    with pytest.raises(MetadataFileError, match=r"devices\.yaml: YAML syntax error"):
        load_devices_file(path)


def test_devices_file_must_be_a_list(tmp_path):
    path = write(tmp_path / "devices.yaml", {"NeuroPort8x8": {"electrode_qty": 64}})
    with pytest.raises(MetadataFileError, match=r"devices\.yaml: at \$: .* is a mapping, expected a list"):
        load_devices_file(path)


def test_device_without_electrode_qty(tmp_path):
    path = write(tmp_path / "devices.yaml", [DEVICES[0], {"name": "NeuroPort8x8", "description": "64 ch"}])
    with pytest.raises(MetadataFileError, match=r"at \$\[1\]: missing the required key 'electrode_qty'"):
        load_devices_file(path)


@pytest.mark.parametrize("quantity", [0, -3, 2.5, "64", True])
def test_electrode_qty_must_be_a_positive_integer(tmp_path, quantity):
    path = write(tmp_path / "devices.yaml", [{"name": "D", "electrode_qty": quantity}])
    with pytest.raises(
        MetadataFileError, match=r"at \$\[0\]\.electrode_qty: .*Fix: give the number of electrodes"
    ):
        load_devices_file(path)


def test_device_without_name_and_duplicate_names(tmp_path):
    with pytest.raises(MetadataFileError, match=r"at \$\[0\]: missing the required key 'name'"):
        load_devices_file(write(tmp_path / "a.yaml", [{"electrode_qty": 4}]))
    with pytest.raises(MetadataFileError, match="already listed"):
        load_devices_file(write(tmp_path / "b.yaml", [DEVICES[1], DEVICES[1]]))


# ------------------------------------------------------------------------------------ bad array maps
def map_file(tmp_path, text) -> Path:
    return write(tmp_path / "map.csv", text)


def full_map(n=4, skip=None, extra=""):
    rows = [f"{e},{e * 1.5},0,0" for e in range(n) if e != skip]
    return "electrode,x,y,z\n" + "\n".join(rows) + "\n" + extra


def test_array_map_is_read_in_electrode_order(tmp_path):
    text = "electrode,x,y,z\n2,20,0,1\n0,0,0,1\n1,10,5,1\n"
    positions = load_array_map(map_file(tmp_path, text), 3, "array 1")
    np.testing.assert_array_equal(positions, [[0, 0, 1], [10, 5, 1], [20, 0, 1]])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("channel,x,y,z\n0,0,0,0\n", "the header must be 'electrode,x,y,z'"),
        ("", "the header must be"),
        ("electrode,x,y,z\n0,a,0,0\n", "every row must hold 4 numbers"),
        (full_map(extra="4,0,0,0\n"), r"electrode indices must be integers in 0\.\.3"),
        (full_map(extra="1.5,0,0,0\n"), "electrode indices must be integers"),
        (full_map(extra="2,0,0,0\n"), r"electrode\(s\) \[2\] are listed more than once"),
        (full_map(skip=1), r"1 of 4 electrodes have no position \(first missing: \[1\]\)"),
    ],
)
def test_bad_array_maps(tmp_path, text, message):
    with pytest.raises(MetadataFileError, match=message):
        load_array_map(map_file(tmp_path, text), 4, "array 1")


def test_missing_array_map_names_the_implant(tmp_path, devices_file):
    path = participant(tmp_path, [implant(array_map="missing.csv")])
    with pytest.raises(
        MetadataFileError, match=r"array map .*missing\.csv \(implant 'array 1'\) does not exist"
    ):
        electrode_layout(load_participant_file(path), load_devices_file(devices_file))
