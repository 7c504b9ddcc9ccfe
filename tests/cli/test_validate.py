"""``neuroconv-brand validate`` as a real process: output lines and exit codes."""

import subprocess
from pathlib import Path

import pytest
import yaml

GRAPHS = Path(__file__).parents[1] / "data" / "graphs"


def validate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real console script as its own process."""
    command = ["neuroconv-brand", "validate"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_real_world_graphs_and_node_yamls_are_ok():
    graphs = sorted(str(path.relative_to(GRAPHS)) for path in GRAPHS.glob("*.yaml"))
    nodes = sorted(str(path.relative_to(GRAPHS)) for path in GRAPHS.rglob("*.yaml") if "nodes" in path.parts)
    result = validate("--graph", *graphs, "--node-yaml", *nodes, cwd=GRAPHS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"ok: {name}" for name in graphs + nodes]
    assert result.stderr == ""


def test_problems_are_printed_one_line_each_and_exit_2(tmp_path):
    (tmp_path / "node.yaml").write_text(
        "RedisStreams:\n  Outputs:\n    s:\n      enable_nwb: True\n      type_nwb: Spikes\n"
    )
    (tmp_path / "t0.yaml").write_text(
        yaml.safe_dump({"implants": [{"name": "array 1", "location": "6v", "device": "Utah"}]})
    )
    (tmp_path / "devices.yaml").write_text(yaml.safe_dump([{"name": "NeuroPort8x8", "electrode_qty": 64}]))
    result = validate(
        "--node-yaml", "node.yaml", "--participant", "t0.yaml", "--devices", "devices.yaml", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stdout.splitlines() == [
        "node YAML node.yaml: at $.RedisStreams.Outputs.s.type_nwb: type_nwb is not an NWB mechanism exportNWB "
        "knows. Fix: write one of TimeSeries, Position, SpikeTimes, Trial, TrialInfo (2022-07 spellings "
        "Time_Series, Spike_Times, Trial_Info also work).",
        "participant file t0.yaml: implants[0].device: 'Utah' is not in devices.yaml (devices.yaml); known "
        "devices: NeuroPort8x8. Fix the implant's device or add the device to the devices file.",
        "ok: devices.yaml",
    ]


def test_warnings_alone_leave_the_file_ok(tmp_path):
    (tmp_path / "node.yaml").write_text(
        "RedisStreams:\n  Outputs:\n    cursor:\n      enable_nwb: True\n      type_nwb: Position\n"
        "      X: {chan_per_stream: 1, samp_per_stream: 1, sample_type: float32, nwb: {unit: pixels, gain: 2}}\n"
    )
    result = validate("--node-yaml", "node.yaml", cwd=tmp_path)
    assert result.returncode == 0
    warning, ok = result.stdout.splitlines()
    assert warning.startswith("warning: node YAML node.yaml: at $.RedisStreams.Outputs.cursor.X.nwb.gain: ")
    assert ok == "ok: node.yaml"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (),
            "error: nothing to validate; give --graph, --node-yaml, --participant, --devices, --spec or --nwb.",
        ),
        (("--graph", "missing.yaml"), "error: --graph missing.yaml: no such file."),
        (
            ("--devices", str(GRAPHS / "core_2022.yaml"), "--derivative", "x"),
            "error: --derivative only applies with --graph.",
        ),
    ],
)
def test_usage_errors_exit_2(tmp_path, args, message):
    result = validate(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [message, "Run 'neuroconv-brand validate --help' for the options."]


def test_nwb_files_are_inspected_one_report_each(tmp_path):
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject

    def write(name: str, subject: Subject | None) -> None:
        start = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
        nwbfile = NWBFile("BRAND block", name, start, experimenter=["Doe, Jane"], subject=subject)
        with NWBHDF5IO(tmp_path / name, "w") as io:
            io.write(nwbfile)

    write("good.nwb", Subject(subject_id="t1", species="Homo sapiens", sex="M", age="P45Y"))
    write("no_subject.nwb", None)
    result = validate("--nwb", "good.nwb", "no_subject.nwb", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stdout.splitlines() + result.stderr.splitlines()
    assert "ok: good.nwb" in lines
    (problem,) = [line for line in lines if "no_subject.nwb" in line and "check_subject_exists" in line]
    assert "Fix: see nwbinspector's best practice for check_subject_exists" in problem
