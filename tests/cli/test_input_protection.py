"""No command overwrites one of its own inputs, whatever the flags (the real console script, real files)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from neuroconv_brand import BrandConverter
from neuroconv_brand.nwb.input_protection import OutputIsInputError
from neuroconv_brand.testing import SessionConfig, save_session_rdb

REFUSED = "writing it would destroy an input of the conversion (even with --overwrite, this is refused)"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["neuroconv-brand", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def session_copy(tmp_path) -> Path:
    """A private session folder (.rdb, participant, devices, array maps; the graph names these files)."""
    folder = tmp_path / "session"
    folder.mkdir()
    save_session_rdb(SessionConfig(duration_s=3.0, seed=2), folder / "t0_231114T2213_clean.rdb", folder)
    return folder


def test_convert_refuses_the_rdb_as_output_by_path_link_and_inode(session_copy):
    rdb = session_copy / "t0_231114T2213_clean.rdb"
    before = digest(rdb)
    (session_copy / "link.nwb").symlink_to(rdb)
    os.link(rdb, session_copy / "hard.nwb")
    for output in ("t0_231114T2213_clean.rdb", "link.nwb", "hard.nwb"):
        result = run("convert", rdb.name, "-o", output, "--overwrite", cwd=session_copy)
        assert result.returncode == 2, result.stderr
        assert result.stderr.splitlines()[0] == (
            f"error: the output {output} is the source {rdb.name}: {REFUSED}. Choose another output path."
        )
    assert digest(rdb) == before
    assert (session_copy / "link.nwb").is_symlink() and digest(session_copy / "hard.nwb") == before


@pytest.mark.parametrize("option", ["--participant", "--devices", "--metadata", "--backend-config"])
def test_convert_refuses_an_option_file_as_output(session_copy, option):
    given = {
        "--participant": session_copy / "config" / "t0" / "t0.yaml",
        "--devices": session_copy / "config" / "devices.yaml",
        "--metadata": session_copy / "metadata.yaml",
        "--backend-config": session_copy / "settings.yaml",
    }[option]
    if not given.exists():
        given.write_text("{}\n")
    before = digest(given)
    rdb = session_copy / "t0_231114T2213_clean.rdb"
    result = run("convert", str(rdb), option, str(given), "-o", str(given), "--overwrite")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        f"error: the output {given} is the {option} file {given}: {REFUSED}. Choose another output path."
    )
    assert digest(given) == before


def test_convert_refuses_the_files_the_graph_names_and_a_folder_holding_an_input(session_copy):
    rdb = session_copy / "t0_231114T2213_clean.rdb"
    participant = session_copy / "config" / "t0" / "t0.yaml"
    array_map = session_copy / "config" / "t0" / "t0_array1_map.csv"
    saved = {path: digest(path) for path in (rdb, participant, array_map)}
    # the graph names the participant file (not given on the command line); the array map is named by it
    by_graph = run("convert", str(rdb), "-o", str(participant), "--overwrite")
    assert by_graph.returncode == 2
    assert by_graph.stderr.splitlines()[0] == (
        f"error: the output {participant} is the participant file {participant}: {REFUSED}. "
        "Choose another output path."
    )
    array = run("convert", str(rdb), "-o", str(array_map), "--overwrite")
    assert array.returncode == 2
    assert f"error: the output {array_map} is the array map of implant" in array.stderr
    # a Zarr output folder that holds the source: replacing it would delete the .rdb
    folder = run("convert", rdb.name, "-o", ".", "--backend", "zarr", "--overwrite", cwd=session_copy)
    assert folder.returncode == 2
    assert folder.stderr.splitlines()[0] == (
        f"error: the output . is a folder that holds the source {rdb.name}: replacing it would delete an input of "
        "the conversion. Choose another output path."
    )
    assert {path: digest(path) for path in saved} == saved


def test_converter_api_refuses_an_input_as_output(session_copy):
    rdb = session_copy / "t0_231114T2213_clean.rdb"
    before = digest(rdb)
    converter = BrandConverter(file_path=str(rdb), streams=["sbp"])
    expected = re.escape(f"the output {rdb} is the .rdb source {rdb}: writing it would destroy an input")
    with pytest.raises(OutputIsInputError, match=expected):
        converter.run_conversion(nwbfile_path=rdb, overwrite=True)
    with pytest.raises(OutputIsInputError, match=expected):
        converter.write(rdb, overwrite=True)
    assert digest(rdb) == before


def write_spec(folder: Path, sessions: list[str]) -> Path:
    """A run-yaml specification: one BrandConverter session per line of ``sessions`` (YAML flow mappings)."""
    lines = ["data_interfaces: {brand: BrandConverter}", "experiments:", "  e:", "    sessions:"]
    lines += [f"      - {session}" for session in sessions]
    spec = folder / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def test_run_yaml_refuses_an_output_that_is_a_source_through_a_link(session_copy, tmp_path):
    rdb = session_copy / "t0_231114T2213_clean.rdb"
    before = digest(rdb)
    output_folder = tmp_path / "out"
    output_folder.mkdir()
    (output_folder / "s.nwb").symlink_to(rdb)  # e.g. a link left in the output folder
    spec = write_spec(tmp_path, [f"{{nwbfile_name: s, source_data: {{brand: {{file_path: {rdb}}}}}}}"])
    result = run("run-yaml", str(spec), "--output-folder-path", str(output_folder), "--overwrite")
    assert result.returncode == 1
    assert (
        f"at $.experiments.e.sessions[0]: the output {output_folder / 's.nwb'} is the source "
        f"$.experiments.e.sessions[0].source_data.brand.file_path {rdb}: {REFUSED}. Choose another output path. "
        "Fix: give the session another 'nwbfile_name', or write to another output folder."
    ) in result.stderr
    assert digest(rdb) == before and (output_folder / "s.nwb").is_symlink()


def test_run_yaml_refuses_two_sessions_writing_one_file_through_a_linked_folder(session_copy, tmp_path):
    rdb = session_copy / "t0_231114T2213_clean.rdb"
    output_folder = tmp_path / "out"
    output_folder.mkdir()
    (output_folder / "same").symlink_to(output_folder)
    spec = write_spec(
        tmp_path,
        [
            f"{{nwbfile_name: a, source_data: {{brand: {{file_path: {rdb}}}}}}}",
            f"{{nwbfile_name: same/a, source_data: {{brand: {{file_path: {rdb}}}}}}}",
        ],
    )
    result = run("run-yaml", str(spec), "--output-folder-path", str(output_folder))
    assert result.returncode == 1
    assert (
        f"at $.experiments.e.sessions[1]: writes {output_folder / 'same' / 'a.nwb'}, as "
        f"$.experiments.e.sessions[0] does (as {output_folder / 'a.nwb'}). Fix: give the sessions different "
        "'nwbfile_name' values."
    ) in result.stderr
    assert not (output_folder / "a.nwb").exists()
