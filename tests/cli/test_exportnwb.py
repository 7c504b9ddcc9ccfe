"""The exportNWB derivative replacement, run as a real process against a real redis-server on a TCP port.

Three ways in, all as BRAND's runner would start them: ``neuroconv-brand exportnwb``, ``python -m
neuroconv_brand.apps.exportnwb`` and the wrapper script of docs/replace-exportnwb.md.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import redis
from pynwb import read_nwb
from pynwb.behavior import Position

from neuroconv_brand.converter import BrandConverter
from neuroconv_brand.sources.redis_server import EmbeddedRedisServer
from neuroconv_brand.testing import SessionConfig, SyntheticSession, generate_session

DOCS = Path(__file__).parents[2] / "docs" / "replace-exportnwb.md"
RDB_NAME = "t0_231114T2213_graph.rdb"
NWB_NAME = "t0_231114T2213_graph.nwb"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class LiveSession:
    """A BRAND session on a TCP redis-server, with CONFIG dir/dbfilename set as BRAND's supervisor does."""

    server: EmbeddedRedisServer
    admin: redis.Redis
    port: int
    folder: Path
    truth: SyntheticSession

    @property
    def expected_output(self) -> Path:
        return self.folder / "RawData" / "NWB" / NWB_NAME


def start_session(folder: Path, era: str, **options) -> Iterator[LiveSession]:
    port = free_port()
    config = {
        "port": str(port),
        "bind": "127.0.0.1",
        "stream-node-max-bytes": "4096",
        "stream-node-max-entries": "100",
    }
    with EmbeddedRedisServer(extra_config=config) as server:
        admin = server.client()
        truth = generate_session(admin, SessionConfig(duration_s=3.0, era=era, **options), folder / "files")
        rdb_dir = folder / "RawData" / "RDB"
        rdb_dir.mkdir(parents=True)
        admin.config_set("dir", str(rdb_dir))
        admin.config_set("dbfilename", RDB_NAME)
        yield LiveSession(server, admin, port, folder, truth)
        admin.close()


@pytest.fixture(scope="module")
def live_2025(tmp_path_factory) -> Iterator[LiveSession]:
    yield from start_session(tmp_path_factory.mktemp("exportnwb_2025"), "2025")


@pytest.fixture
def live_2024(tmp_path) -> Iterator[LiveSession]:
    yield from start_session(tmp_path, "2024")


def wrapper_script(folder: Path) -> Path:
    """The wrapper of docs/replace-exportnwb.md, installed as ``derivatives/exportNWB/exportNWB.py``."""
    block = re.search(r"<!-- wrapper:begin -->\s*```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert block is not None, "docs/replace-exportnwb.md lost its wrapper block"
    script = folder / "derivatives" / "exportNWB" / "exportNWB.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(block.group(1))
    return script


def command(how: str, folder: Path) -> list[str]:
    """How each entry point is started."""
    if how == "module":
        return [sys.executable, "-m", "neuroconv_brand.apps.exportnwb"]
    if how == "wrapper":
        return [sys.executable, str(wrapper_script(folder))]
    return ["neuroconv-brand", "exportnwb"]


def run(how: str, folder: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*command(how, folder), *args], capture_output=True, text=True, timeout=300, cwd=cwd or folder
    )


def keyspace(client: redis.Redis) -> dict:
    """Every key with its type and, for streams, length and last id."""
    state = {}
    for key in sorted(client.keys("*")):
        kind = client.type(key)
        state[key] = (
            (kind, client.xlen(key), client.xinfo_stream(key)["last-generated-id"])
            if kind == b"stream"
            else kind
        )
    return {"dbsize": client.dbsize(), "keys": state}


def read_back(path: Path) -> dict:
    nwbfile = read_nwb(path)
    positions = {
        f"{name}/{series}": np.asarray(container[series].data[:])
        for name, container in nwbfile.acquisition.items()
        if isinstance(container, Position)
        for series in container.spatial_series
    }
    position_times = {
        f"{name}/{series}": np.asarray(container[series].get_timestamps()[:])
        for name, container in nwbfile.acquisition.items()
        if isinstance(container, Position)
        for series in container.spatial_series
    }
    units = nwbfile.units
    return {
        "start": np.asarray(nwbfile.trials["start_time"][:]),
        "stop": np.asarray(nwbfile.trials["stop_time"][:]),
        "positions": positions,
        "position_times": position_times,
        "spikes": [np.asarray(units["spike_times"][index]) for index in range(len(units))],
        "description": nwbfile.session_description,
    }


def assert_same_session(derivative: dict, reference: dict) -> None:
    np.testing.assert_array_equal(derivative["start"], reference["start"])
    np.testing.assert_array_equal(derivative["stop"], reference["stop"])
    assert derivative["positions"].keys() == reference["positions"].keys() and derivative["positions"]
    for name in reference["positions"]:
        np.testing.assert_array_equal(derivative["positions"][name], reference["positions"][name])
        np.testing.assert_array_equal(derivative["position_times"][name], reference["position_times"][name])
    assert len(derivative["spikes"]) == len(reference["spikes"]) > 0
    for ours, theirs in zip(derivative["spikes"], reference["spikes"], strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert derivative["description"] == reference["description"]


def reference_file(session: LiveSession, folder: Path, brand_base_dir: Path | None = None) -> dict:
    path = folder / "reference.nwb"
    converter = BrandConverter(file_path=f"redis://127.0.0.1:{session.port}/0", brand_base_dir=brand_base_dir)
    converter.run_conversion(nwbfile_path=path, overwrite=True)
    return read_back(path)


@pytest.mark.parametrize("how", ["module", "wrapper"])
def test_derivative_writes_where_exportnwb_does_reads_only_and_matches_the_converter(
    live_2025, tmp_path, how
):
    session = live_2025
    session.expected_output.unlink(missing_ok=True)
    before = keyspace(session.admin)
    result = run(how, tmp_path, "-n", "exportNWB", "-i", "127.0.0.1", "-p", str(session.port))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {session.expected_output}"
    assert keyspace(session.admin) == before  # read-only: no console_logging, no status, nothing
    derivative = read_back(session.expected_output)
    assert len(derivative["start"]) == len(session.truth.trials) > 0
    assert derivative["description"] == session.truth.description
    assert_same_session(derivative, reference_file(session, tmp_path))


def test_existing_output_overwrite_log_to_redis_and_unknown_arguments(live_2025, tmp_path):
    session = live_2025
    target = session.expected_output
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"keep me")
    base = ["-n", "exportNWB", "-i", "127.0.0.1", "-p", str(session.port)]
    kept = run("cli", tmp_path, *base)
    assert kept.returncode == 2
    assert "already exists; pass --overwrite" in kept.stderr
    assert target.read_bytes() == b"keep me"

    assert session.admin.exists("console_logging") == 0
    result = run(
        "cli", tmp_path, *base, "--overwrite", "--log-to-redis", "--future-option", "7", "-l", "INFO"
    )
    try:
        assert result.returncode == 0, result.stderr
        assert "warning: ignoring unknown arguments --future-option 7" in result.stderr
        messages = [fields[b"message"].decode() for _, fields in session.admin.xrange("console_logging")]
        assert len(messages) == 2
        assert messages[0].startswith("[exportNWB] converting redis://127.0.0.1:")
        assert messages[1].startswith(f"[exportNWB] wrote {target} in ")
        assert len(read_back(target)["start"]) == len(session.truth.trials)
    finally:
        session.admin.delete("console_logging")


def test_output_option_and_unix_socket(live_2025, tmp_path):
    output = tmp_path / "elsewhere" / "session.nwb"
    before = keyspace(live_2025.admin)
    result = run("module", tmp_path, "-s", live_2025.server.socket_path, "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert keyspace(live_2025.admin) == before
    assert len(read_back(output)["start"]) == len(live_2025.truth.trials)


def test_output_that_is_an_input_is_refused_even_with_overwrite(live_2025, tmp_path):
    session = live_2025
    participant = session.truth.participant_file
    server_rdb = session.folder / "RawData" / "RDB" / RDB_NAME
    server_rdb.write_bytes(b"an earlier save")
    saved = {path: path.read_bytes() for path in (participant, server_rdb)}
    base = ["-n", "exportNWB", "-i", "127.0.0.1", "-p", str(session.port), "--overwrite"]
    for output, what in ((participant, "the participant file"), (server_rdb, "the Redis server's .rdb file")):
        result = run("cli", tmp_path, *base, "--output", str(output))
        assert result.returncode == 2, result.stderr
        assert (
            f"error: the output {output} is {what} {output}: writing it would destroy an input"
            in result.stderr
        )
    assert {path: path.read_bytes() for path in saved} == saved
    server_rdb.unlink()


@pytest.mark.parametrize("how", ["cli", "module"])
def test_unknown_nickname_fails_listing_the_derivatives(live_2025, tmp_path, how):
    result = run(how, tmp_path, "-n", "exportNWBX", "-i", "127.0.0.1", "-p", str(live_2025.port))
    assert result.returncode == 1
    assert "no derivative with nickname 'exportNWBX' (derivatives: exportNWB, saveRDB)" in result.stderr
    assert not (tmp_path / "RawData").exists()


@pytest.mark.parametrize("how", ["cli", "module"])
def test_unreachable_server_fails(tmp_path, how):
    result = run(how, tmp_path, "-n", "exportNWB", "-i", "127.0.0.1", "-p", str(free_port()))
    assert result.returncode == 1
    assert "cannot reach the Redis server" in result.stderr


def test_bad_command_line_is_a_usage_error(tmp_path):
    result = run("module", tmp_path, "-p", "not-a-port")
    assert result.returncode == 2
    assert "invalid int value" in result.stderr


def test_2024_graph_with_relative_participant_files_via_the_cli(live_2024, tmp_path):
    session = live_2024
    base_dir = session.truth.brand_base_dir
    assert (
        base_dir is not None
        and not Path(
            session.truth.supergraph["derivatives"]["exportNWB"]["parameters"]["participant_file"]
        ).is_absolute()
    )
    result = run(
        "cli",
        tmp_path,
        "-n",
        "exportNWB",
        "-i",
        "127.0.0.1",
        "-p",
        str(session.port),
        "--brand-base-dir",
        str(base_dir),
    )
    assert result.returncode == 0, result.stderr
    derivative = read_back(session.expected_output)
    assert_same_session(derivative, reference_file(session, tmp_path, brand_base_dir=base_dir))
    # the runner starts derivatives from the BRAND base directory: no --brand-base-dir needed there
    again = run(
        "module",
        tmp_path,
        "-n",
        "exportNWB",
        "-i",
        "127.0.0.1",
        "-p",
        str(session.port),
        "--overwrite",
        cwd=base_dir,
    )
    assert again.returncode == 0, again.stderr
    assert_same_session(read_back(session.expected_output), derivative)


@pytest.fixture
def live_2025_own(tmp_path) -> Iterator[LiveSession]:
    yield from start_session(tmp_path, "2025")


def test_the_nickname_selects_the_derivative_parameters(live_2025_own, tmp_path):
    """A second exportNWB-like derivative: its description and stream switches are the ones used."""
    session = live_2025_own
    model = copy.deepcopy(session.truth.supergraph)
    parameters = copy.deepcopy(model["derivatives"]["exportNWB"]["parameters"])
    parameters["description"] = "export without the cursor"
    parameters["streams"]["cursorData"]["enable"] = False
    model["derivatives"]["exportNoCursor"] = {
        **model["derivatives"]["exportNWB"],
        "nickname": "exportNoCursor",
        "parameters": parameters,
    }
    session.admin.xadd("supergraph_stream", {"data": json.dumps(model)})  # BRAND re-publishes on updates

    plain = run("module", tmp_path, "-n", "exportNWB", "-p", str(session.port), "-o", str(tmp_path / "a.nwb"))
    chosen = run(
        "module", tmp_path, "-n", "exportNoCursor", "-p", str(session.port), "-o", str(tmp_path / "b.nwb")
    )
    assert plain.returncode == 0 and chosen.returncode == 0, plain.stderr + chosen.stderr
    default, custom = read_back(tmp_path / "a.nwb"), read_back(tmp_path / "b.nwb")
    assert default["description"] == session.truth.description
    assert custom["description"] == "export without the cursor"
    assert any(name.startswith("cursorData/") for name in default["positions"])
    assert not any(name.startswith("cursorData/") for name in custom["positions"])
    np.testing.assert_array_equal(custom["start"], default["start"])


def test_without_config_permission_the_supergraph_location_or_a_clear_error(live_2025_own, tmp_path):
    session = live_2025_own
    session.admin.execute_command("ACL", "SETUSER", "default", "-config")
    base_dir = tmp_path / "brand"
    base_dir.mkdir()
    model = session.truth.supergraph
    expected = (
        tmp_path / Path(model["rdb_dirpath"]).relative_to("..").parent / "NWB" / model["rdb_filename"]
    ).with_suffix(".nwb")
    args = ["-n", "exportNWB", "-p", str(session.port), "--brand-base-dir", str(base_dir)]
    result = run("module", tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {expected}"
    assert len(read_back(expected)["start"]) == len(session.truth.trials)

    older = {key: value for key, value in model.items() if key not in ("rdb_dirpath", "rdb_filename")}
    session.admin.xadd("supergraph_stream", {"data": json.dumps(older)})
    refused = run("module", tmp_path, *args)
    assert refused.returncode == 1
    assert "the server refused CONFIG GET" in refused.stderr and "Pass --output PATH" in refused.stderr


def test_blackrock_cmp_maps_give_the_electrode_positions(tmp_path):
    from .test_array_maps import assert_cmp_positions

    with contextmanager(start_session)(tmp_path, "2025", array_map_format="cmp") as session:
        result = run("cli", tmp_path, "-n", "exportNWB", "-i", "127.0.0.1", "-p", str(session.port))
    assert result.returncode == 0, result.stderr
    assert "array map" not in result.stderr
    assert_cmp_positions(session.expected_output, session.truth)
