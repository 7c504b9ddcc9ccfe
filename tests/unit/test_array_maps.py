"""Array maps: Blackrock ``.cmp`` and CSV read by content; a missing or bad map warns and never stops a conversion."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from neuroconv_brand.apps.validation import check_participant_files
from neuroconv_brand.participant.array_maps import ArrayMapError, read_array_map
from neuroconv_brand.participant.files import (
    MetadataFileError,
    electrode_layout,
    load_devices_file,
    load_participant_file,
)
from neuroconv_brand.testing import SessionConfig
from neuroconv_brand.testing.definitions import build_graph
from neuroconv_brand.testing.yaml_files import write_session_files

HEADER = "//Blackrock Microsystems map\n//col row bank elec label\nCerebus mapping\n"
#: (col, row, bank, elec, label) of a 4-channel array whose wiring does not follow the grid.
GRID = [(0, 0, "A", 3, "elec1"), (1, 0, "A", 1, "elec2"), (0, 1, "A", 4, "elec3"), (1, 1, "A", 2, "elec4")]


def cmp_text(lines=GRID, header=HEADER, newline="\n") -> str:
    body = [f"{col}\t{row}\t{bank}\t{elec}\t{label}" for col, row, bank, elec, label in lines]
    return (header + "\n".join(body) + "\n").replace("\n", newline)


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


# ----------------------------------------------------------------------------------------- .cmp files
@pytest.mark.parametrize("order", ["grid", "channel"])
def test_cmp_rows_land_on_their_channel_in_either_order(tmp_path, order):
    lines = GRID if order == "grid" else sorted(GRID, key=lambda line: line[3])
    array_map = read_array_map(write(tmp_path / "a.cmp", cmp_text(lines)), 4, "array 1")
    assert array_map.format == "cmp"
    # channel = elec - 1 in bank A; position = (col, row) * 400 um
    np.testing.assert_array_equal(array_map.positions, [[400, 0, 0], [400, 400, 0], [0, 0, 0], [0, 400, 0]])
    assert array_map.labels == ("elec2", "elec4", "elec1", "elec3")
    assert array_map.unlisted.tolist() == []


def test_cmp_banks_beyond_d_and_the_pitch(tmp_path):
    lines = [(2, 3, "E", 1, "chan129"), (0, 0, "A", 1, "chan1"), (5, 1, "h", 32, "chan256")]
    array_map = read_array_map(write(tmp_path / "big.cmp", cmp_text(lines)), 256, "array 1", pitch_um=250)
    np.testing.assert_array_equal(
        array_map.positions[[0, 128, 255]], [[0, 0, 0], [500, 750, 0], [1250, 250, 0]]
    )
    assert array_map.labels[128] == "chan129" and array_map.labels[255] == "chan256"
    assert len(array_map.unlisted) == 253 and np.isnan(array_map.positions[1]).all()


def test_cmp_with_crlf_line_ends_no_description_and_no_labels(tmp_path):
    text = cmp_text(header="// only a comment\n", newline="\r\n").replace("\telec1", "")
    array_map = read_array_map(write(tmp_path / "a.cmp", text), 4, "array 1")
    np.testing.assert_array_equal(array_map.positions[2], [0, 0, 0])
    assert array_map.labels == ("elec2", "elec4", "", "elec3")


def test_fewer_electrodes_than_the_device_leaves_nan_rows(tmp_path):
    array_map = read_array_map(write(tmp_path / "a.cmp", cmp_text(GRID[:3])), 6, "array 1")
    assert array_map.unlisted.tolist() == [1, 4, 5]
    assert np.isnan(array_map.positions[[1, 4, 5]]).all()
    np.testing.assert_array_equal(array_map.positions[[0, 2, 3]], [[400, 0, 0], [0, 0, 0], [0, 400, 0]])


def test_the_format_is_chosen_by_content_not_extension(tmp_path):
    as_csv = read_array_map(write(tmp_path / "map.cmp", "electrode,x,y\n1,5,6\n0,7,8\n"), 2, "array 1")
    as_cmp = read_array_map(write(tmp_path / "map.csv", cmp_text()), 4, "array 1")
    assert (as_csv.format, as_cmp.format) == ("csv", "cmp")
    np.testing.assert_array_equal(as_csv.positions, [[7, 8, 0], [5, 6, 0]])
    assert as_csv.labels is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            cmp_text([*GRID, (3, 3, "A", 3, "elec16")]),
            "array map {path} (implant 'array 1'): channel(s) [2] are listed more than once",
        ),
        (
            HEADER.replace("Cerebus mapping\n", ""),
            "array map {path} (implant 'array 1') holds no electrodes (only comments or blank lines)",
        ),
        (
            "// comment\r\n\r\n//another\r\n",
            "array map {path} (implant 'array 1') holds no electrodes (only comments or blank lines)",
        ),
        ("", "array map {path} (implant 'array 1') holds no electrodes (only comments or blank lines)"),
        (
            HEADER,
            "array map {path} (implant 'array 1') holds no electrodes (a description line and no electrode lines)",
        ),
        (
            cmp_text([(0, 0, "A", 1, "e1"), (0, 1, "A", 1, "e1 extra")]),
            "array map {path} (implant 'array 1'): line 5 '0\\t1\\tA\\t1\\te1 extra' is not an electrode line 'col row "
            "bank elec label' (a Blackrock Central .cmp map), nor is the file a CSV map with the header "
            "'electrode,x,y,z'",
        ),
        (
            cmp_text([(0, 0, "I", 1, "e1")]),
            "array map {path} (implant 'array 1'): line 4 '0\\t0\\tI\\t1\\te1': the bank must be a letter A..H and "
            "elec 1..32",
        ),
        (
            cmp_text([(0, 0, "A", 33, "e1")]),
            "array map {path} (implant 'array 1'): line 4 '0\\t0\\tA\\t33\\te1': the bank must be a letter A..H and "
            "elec 1..32",
        ),
        (
            cmp_text([(0, 0, "E", 1, "e1")]),
            "array map {path} (implant 'array 1'): line 4 '0\\t0\\tE\\t1\\te1': bank E elec 1 is channel 128, beyond "
            "the device's 4 electrodes; check the implant's device or its array_map",
        ),
        (
            "electrode,x,y,q\n0,0,0,0\n",
            "array map {path} (implant 'array 1'): the CSV header must be 'electrode,x,y,z' (or 'electrode,x,y'), "
            "got 'electrode,x,y,q'",
        ),
        (
            "electrode,x,y,z\n0,a,0,0\n",
            "array map {path} (implant 'array 1'): line 2 '0,a,0,0': every row must hold 4 numbers (electrode,x,y,z)",
        ),
        (
            "electrode,x,y,z\n4,0,0,0\n",
            "array map {path} (implant 'array 1'): line 2 '4,0,0,0': the electrode index must be an integer in 0..3 "
            "(the device has 4 electrodes)",
        ),
        (
            "electrode,x,y,z\n1.5,0,0,0\n",
            "array map {path} (implant 'array 1'): line 2 '1.5,0,0,0': the electrode index must be an integer in "
            "0..3 (the device has 4 electrodes)",
        ),
        (
            "electrode,x,y,z\n2,0,0,0\n2,1,1,1\n",
            "array map {path} (implant 'array 1'): channel(s) [2] are listed more than once",
        ),
        (
            "electrode,x,y,z\n",
            "array map {path} (implant 'array 1') holds no electrodes (a header and no rows)",
        ),
    ],
)
def test_unreadable_maps_name_the_file_the_implant_and_the_line(tmp_path, text, message):
    path = write(tmp_path / "bad.cmp", text)
    with pytest.raises(ArrayMapError, match=exact(message.format(path=path))):
        read_array_map(path, 4, "array 1")


def test_a_missing_map_is_an_array_map_error(tmp_path):
    path = tmp_path / "gone.cmp"
    with pytest.raises(ArrayMapError, match=exact(f"array map {path} (implant 'array 1') does not exist")):
        read_array_map(path, 4, "array 1")
    assert issubclass(ArrayMapError, MetadataFileError)


# ------------------------------------------------------------------- the participant layer and validate
def cmp_session(tmp_path, **options):
    config = SessionConfig(n_arrays=2, channels_per_array=96, array_map_format="cmp", **options)
    return write_session_files(config, build_graph(config), tmp_path)


def test_generator_cmp_maps_give_the_truth_positions_and_labels(tmp_path):
    files = cmp_session(tmp_path)
    assert [path.suffix for path in files.array_map_files] == [".cmp", ".cmp"]
    assert files.array_map_files[0].read_bytes().count(b"\r\n") == 3 + 1 + 96
    layout = electrode_layout(
        load_participant_file(files.participant_file), load_devices_file(files.devices_file)
    )
    np.testing.assert_array_equal(layout.positions, [electrode.position for electrode in files.electrodes])
    assert list(layout.labels) == [electrode.label for electrode in files.electrodes]
    assert layout.positions[:, 2].tolist() == [0.0] * 192
    # the map scatters channels over the grid: not channel i at cell i
    assert layout.labels[:96] != tuple(f"elec{index + 1}" for index in range(96))


def test_array_pitch_um_scales_the_positions(tmp_path):
    files = cmp_session(tmp_path)
    document = yaml.safe_load(files.participant_file.read_text())
    document["implants"][1]["array_pitch_um"] = 250
    files.participant_file.write_text(yaml.safe_dump(document))
    participant = load_participant_file(files.participant_file)
    assert [implant.array_pitch_um for implant in participant.implants] == [None, 250.0]
    layout = electrode_layout(participant, load_devices_file(files.devices_file))
    truth = np.array([electrode.position for electrode in files.electrodes])
    np.testing.assert_array_equal(layout.positions[:96], truth[:96])
    np.testing.assert_array_equal(layout.positions[96:], truth[96:] / 400 * 250)


def test_array_pitch_um_must_be_positive(tmp_path):
    files = cmp_session(tmp_path)
    document = yaml.safe_load(files.participant_file.read_text())
    document["implants"][0]["array_pitch_um"] = 0
    files.participant_file.write_text(yaml.safe_dump(document))
    with pytest.raises(MetadataFileError, match=r"implants\[0\]\.array_pitch_um: .*positive number"):
        load_participant_file(files.participant_file)


def test_missing_maps_warn_once_per_implant_and_leave_their_rows_without_positions(tmp_path):
    files = cmp_session(tmp_path)
    files.array_map_files[0].unlink()
    participant = load_participant_file(files.participant_file)
    devices = load_devices_file(files.devices_file)
    with pytest.warns(UserWarning) as caught:
        layout = electrode_layout(participant, devices)
    assert [str(warning.message) for warning in caught] == [
        f"array map {files.array_map_files[0]} (implant 'array 1') does not exist; the electrodes of implant "
        "'array 1' are written without positions. Fix: put the array's map file (the Blackrock Central .cmp, or a "
        f"CSV 'electrode,x,y,z') at that path, or correct the implant's array_map in participant file "
        f"{files.participant_file}."
    ]
    assert np.isnan(layout.positions[:96]).all() and not np.isnan(layout.positions[96:]).any()
    assert layout.labels[:96] == ("",) * 96

    files.array_map_files[1].unlink()
    with pytest.warns(UserWarning) as caught:
        layout = electrode_layout(participant, devices)
    assert len(caught) == 2 and "implant 'array 2'" in str(caught[1].message)
    assert layout.positions is None and layout.labels is None


def test_a_short_map_warns_and_validate_reports_it(tmp_path):
    files = cmp_session(tmp_path)
    path = files.array_map_files[1]
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(lines[:-3]) + b"\r\n")  # drop the last two electrode lines
    with pytest.warns(
        UserWarning,
        match=exact(
            f"array map {path} (implant 'array 2') lists 94 of the device's 96 electrodes; channel(s) "
            f"{', '.join(str(c) for c in sorted(_channels_of(lines[-3:-1])))} get NaN positions."
        ),
    ):
        layout = electrode_layout(
            load_participant_file(files.participant_file), load_devices_file(files.devices_file)
        )
    assert np.isnan(layout.positions).any(axis=1).sum() == 2
    participant_report, devices_report = check_participant_files(files.participant_file, files.devices_file)
    assert participant_report.ok and devices_report.ok
    assert len(participant_report.warnings) == 1 and "lists 94 of" in participant_report.warnings[0]


def _channels_of(lines: list[bytes]) -> list[int]:
    channels = []
    for line in lines:
        _, _, bank, elec, _ = line.decode().split("\t")
        channels.append("ABCDEFGH".index(bank) * 32 + int(elec) - 1)
    return channels


def test_validate_reports_each_missing_map_as_a_problem(tmp_path):
    files = cmp_session(tmp_path)
    participant_report, _ = check_participant_files(files.participant_file, files.devices_file)
    assert participant_report.ok and participant_report.warnings == []
    for path in files.array_map_files:
        path.unlink()
    participant_report, devices_report = check_participant_files(files.participant_file, files.devices_file)
    assert devices_report.ok and not participant_report.ok
    assert [line.split(";")[0] for line in participant_report.errors] == [
        f"array map {files.array_map_files[0]} (implant 'array 1') does not exist",
        f"array map {files.array_map_files[1]} (implant 'array 2') does not exist",
    ]
