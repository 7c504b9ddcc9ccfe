"""``neuroconv-brand inspect``: the installed console script against a real redis-server and a real .rdb file."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from neuroconv_brand.cli.main import main
from neuroconv_brand.testing import SessionConfig, generate_session

CONFIG = SessionConfig(duration_s=2.0, n_arrays=2, channels_per_array=64, era="2025", seed=0)
SCRIPT = shutil.which("neuroconv-brand") or str(Path(sys.executable).with_name("neuroconv-brand"))


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "BRAND_BASE_DIR"}
    environment.update(env or {})
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, timeout=120, env=environment, check=False
    )


def table_rows(stdout: str) -> dict[str, list[str]]:
    """Stream rows of the table: name -> cells (cells are separated by two or more spaces)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("stream "))
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        if not line.startswith(" "):
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0]] = cells
    return rows


def expected_rate(ids) -> float:
    return (len(ids) - 1) / ((int(ids[-1, 0]) - int(ids[0, 0])) / 1000)


@pytest.fixture
def session_truth(redis_client, tmp_path):
    return generate_session(redis_client, CONFIG, tmp_path / "files")


@pytest.fixture
def rdb_file(redis_client, session_truth, tmp_path) -> Path:
    """The fixture server's database saved to a .rdb file (SAVE, then copy dump.rdb from CONFIG GET dir)."""
    redis_client.save()
    folder = Path(redis_client.config_get("dir")["dir"])
    target = tmp_path / "t0_231114T2213_sim_radial8.rdb"
    shutil.copyfile(folder / redis_client.config_get("dbfilename")["dbfilename"], target)
    return target


def check_table(stdout: str, truth) -> None:
    rows = table_rows(stdout)
    assert set(rows) == set(truth.streams) | {"nsp_neural"}
    sbp = rows["sbp"]
    assert sbp[:4] == ["sbp", "TimeSeries", "yes (graph enable: true)", str(truth.streams["sbp"].n_entries)]
    assert float(sbp[4]) == pytest.approx(expected_rate(truth.streams["sbp"].ids), rel=1e-3)
    thresh = rows["thresh_cross"]
    assert thresh[1:4] == [
        "SpikeTimes",
        "yes (node enable_nwb: true)",
        str(truth.streams["thresh_cross"].n_entries),
    ]
    assert rows["nsp_neural"][1:4] == ["TimeSeries", "no (graph enable: false)", "0"]
    assert rows["graph_status"][1:4] == ["-", "- (not in the graph)", "5"]
    assert rows["state"][1:3] == ["Trial", "yes (node enable_nwb: true)"]
    assert "    key samples: 128 ch x 1 samp, float32, exported" in stdout.splitlines()
    assert "    key samples: 128 ch x 30 samp, int16, channel-major, exported" in stdout.splitlines()
    assert "    note: not in the source" in stdout.splitlines()
    assert f"Participant file: {truth.participant_file} (found)" in stdout
    assert f"Devices file: {truth.devices_file} (found)" in stdout
    assert "Graph problems: none" in stdout


def test_inspect_live_server_table(redis_server, session_truth):
    result = run_cli("inspect", redis_server.socket_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines()[0] == f"Source: unix socket {redis_server.socket_path}"
    assert (
        result.stdout.splitlines()[1]
        == "Graph: sim_radial8 (era 2025, exportNWB derivative 'exportNWB', participant t0)"
    )
    check_table(result.stdout, session_truth)


def test_inspect_live_server_by_url_json(redis_server, session_truth):
    result = run_cli("inspect", f"unix://{redis_server.socket_path}", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["graph"]["era"] == "2025"
    assert document["graph"]["graph_name"] == "sim_radial8"
    streams = {stream["name"]: stream for stream in document["streams"]}
    for name, truth in session_truth.streams.items():
        assert streams[name]["length"] == truth.n_entries
        assert streams[name]["first_id"] == truth.id_strings()[0]
        assert streams[name]["last_id"] == truth.id_strings()[-1]
    thresh = streams["thresh_cross"]
    assert thresh["entry_rate_hz"] == pytest.approx(expected_rate(session_truth.streams["thresh_cross"].ids))
    assert (thresh["type_nwb"], thresh["enabled"], thresh["enable_reason"]) == (
        "SpikeTimes",
        True,
        "node enable_nwb: true",
    )
    assert thresh["keys"] == [
        {
            "name": "crossings",
            "chan": 128,
            "samp": 1,
            "dtype": "int16",
            "layout": "sample-major",
            "exported": True,
        }
    ]
    raw = streams["nsp_neural"]
    assert (raw["in_source"], raw["length"], raw["note"], raw["enable_reason"]) == (
        False,
        0,
        "not in the source",
        "graph enable: false",
    )
    files = {item["role"]: item for item in document["metadata_files"]}
    assert files["participant"] == {
        "role": "participant",
        "named_as": str(session_truth.participant_file),
        "path": str(session_truth.participant_file),
        "exists": True,
    }
    assert document["problems"] == []
    assert document["notes"] == []


def test_inspect_rdb_file(rdb_file, session_truth):
    result = run_cli("inspect", str(rdb_file))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"Source: {rdb_file}"
    check_table(result.stdout, session_truth)


def test_inspect_rdb_file_json_with_explicit_redis_server(rdb_file, session_truth):
    server = shutil.which("redis-server")
    if server is None:
        from neuroconv_brand.sources.redis_server import find_redis_servers

        server = find_redis_servers()[0].path
    result = run_cli("inspect", str(rdb_file), "--redis-server", server, "--json")
    assert result.returncode == 0, result.stderr
    streams = {stream["name"]: stream for stream in json.loads(result.stdout)["streams"]}
    assert streams["binned_spikes"]["length"] == session_truth.streams["binned_spikes"].n_entries


def test_inspect_without_supergraph_still_lists_streams(redis_server, redis_client, capsys):
    redis_client.xadd("sbp", {"samples": b"\x00" * 8}, id="1700000000000-0")
    redis_client.xadd("sbp", {"samples": b"\x00" * 8}, id="1700000000100-0")
    redis_client.xadd("cursorData", {"X": b"\x00" * 4}, id="1700000000000-0")
    result = run_cli("inspect", redis_server.socket_path)
    assert result.returncode == 0, result.stderr
    rows = table_rows(result.stdout)
    assert rows["sbp"][:5] == ["sbp", "-", "- (no graph)", "2", "10"]
    assert rows["cursorData"][:4] == ["cursorData", "-", "- (no graph)", "1"]
    assert "Graph: none" in result.stdout
    assert "Notes:" in result.stdout
    assert "has no 'supergraph_stream'" in result.stdout
    assert "Streams are listed without graph information." in result.stdout

    assert main(["inspect", redis_server.socket_path, "--json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["graph"] is None
    assert [stream["name"] for stream in as_json["streams"]] == ["cursorData", "sbp"]


def test_brand_base_dir_from_environment(redis_server, redis_client, tmp_path, capsys, monkeypatch):
    truth = generate_session(redis_client, SessionConfig(duration_s=1.0, era="2024", task=False), tmp_path)
    monkeypatch.delenv("BRAND_BASE_DIR", raising=False)
    assert main(["inspect", redis_server.socket_path]) == 0
    without = capsys.readouterr().out
    assert "Graph problems (4):" in without
    assert "Participant file: ../config/t0/t0.yaml (relative to the BRAND base directory" in without

    with_env = run_cli("inspect", redis_server.socket_path, env={"BRAND_BASE_DIR": str(truth.brand_base_dir)})
    assert with_env.returncode == 0, with_env.stderr
    assert "Graph problems: none" in with_env.stdout
    assert f"Participant file: ../config/t0/t0.yaml -> {truth.participant_file} (found)" in with_env.stdout
    assert table_rows(with_env.stdout)["sbp"][1:3] == ["TimeSeries", "yes (graph enable: true)"]


# -- bad input ------------------------------------------------------------------------------------------


def test_missing_rdb_file_is_a_usage_error(tmp_path):
    result = run_cli("inspect", str(tmp_path / "gone.rdb"))
    assert result.returncode == 2
    assert result.stdout == ""
    first, second = result.stderr.splitlines()
    assert (
        first
        == f"error: SOURCE: {tmp_path / 'gone.rdb'}: no such file. Check the path of the dump.rdb to convert."
    )
    assert second == "Run 'neuroconv-brand inspect --help' for the options."


def test_source_that_is_nothing_known_is_a_usage_error(capsys):
    assert main(["inspect", "localhost:6379"]) == 2
    assert capsys.readouterr().err.startswith("error: SOURCE: 'localhost:6379' is not a Redis URL")


def test_file_that_is_not_an_rdb(tmp_path):
    not_rdb = tmp_path / "notes.rdb"
    not_rdb.write_text("hello, this is text\n")
    result = run_cli("inspect", str(not_rdb))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: {not_rdb}: not a Redis RDB file (header b'hello, th', expected b'REDIS' and a 4-digit version, "
        "or b'VALKEY' and a 3-digit version)."
    )
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path, capsys):
    not_rdb = tmp_path / "notes.rdb"
    not_rdb.write_text("hello, this is text\n")
    result = run_cli("--debug", "inspect", str(not_rdb))
    assert result.returncode == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert "neuroconv_brand.errors.RdbFileError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"error: {not_rdb}: not a Redis RDB file")
    # --debug also works after the subcommand
    assert main(["inspect", str(not_rdb), "--debug"]) == 1
    assert capsys.readouterr().err.startswith("Traceback (most recent call last):")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_url():
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run_cli("inspect", url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {url}: cannot reach the Redis server (")
    assert "Is it running, and are host, port or socket path right?" in result.stderr
    assert len(result.stderr.splitlines()) == 1


# Argument checks run in-process through ``main()`` (the same code the script runs; no interpreter start-up).


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_bad_brand_base_dir(redis_server, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BRAND_BASE_DIR", raising=False)
    code, out, err = run_main(
        capsys, "inspect", redis_server.socket_path, "--brand-base-dir", str(tmp_path / "nope")
    )
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: --brand-base-dir {tmp_path / 'nope'} is not a directory; give the BRAND checkout the session "
        "ran from.",
        "Run 'neuroconv-brand inspect --help' for the options.",
    ]
    monkeypatch.setenv("BRAND_BASE_DIR", str(tmp_path / "nope"))
    code, _, err = run_main(capsys, "inspect", redis_server.socket_path)
    assert code == 2
    assert err.startswith(f"error: $BRAND_BASE_DIR {tmp_path / 'nope'} is not a directory")


def test_redis_server_option_checks(redis_server, rdb_file, tmp_path, capsys):
    code, _, err = run_main(capsys, "inspect", redis_server.socket_path, "--redis-server", "/usr/bin/true")
    assert code == 2
    assert err.startswith("error: --redis-server only applies to .rdb sources")
    code, _, err = run_main(
        capsys, "inspect", str(rdb_file), "--redis-server", str(tmp_path / "redis-server")
    )
    assert code == 2
    assert err.startswith(f"error: --redis-server {tmp_path / 'redis-server'}: no such file")
    code, _, err = run_main(
        capsys, "inspect", str(rdb_file), "--redis-server", shutil.which("true") or "/bin/true"
    )
    assert code == 1
    assert "is not a working redis-server" in err


def test_usage_errors(capsys):
    assert run_main(capsys)[0] == 2
    code, _, err = run_main(capsys, "inspect", "x.rdb", "--frobnicate")
    assert code == 2
    assert "unrecognized arguments: --frobnicate" in err
    assert run_main(capsys, "transmogrify")[0] == 2
    code, out, _ = run_main(capsys, "inspect", "--help")
    assert code == 0
    assert "--brand-base-dir DIR" in out


def test_version_from_the_console_script():
    from importlib.metadata import version as installed_version

    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"neuroconv-brand {installed_version('neuroconv-brand')}"
