"""Input validation: real-world graphs and node YAMLs pass; each kind of mistake gives its exact line."""

from pathlib import Path
from textwrap import dedent, indent

import pytest
import yaml

from neuroconv_brand.apps.validation import (
    check_graph,
    check_node_yaml,
    check_participant_files,
    check_specification,
    inspect_nwb,
)
from neuroconv_brand.schemas_io import load_schema

GRAPHS = Path(__file__).parents[1] / "data" / "graphs"
GRAPH_FILES = sorted(GRAPHS.glob("*.yaml"))
NODE_YAMLS = sorted(path for path in GRAPHS.rglob("*.yaml") if "nodes" in path.parts)


def write(path: Path, text: str) -> Path:
    path.write_text(dedent(text))
    return path


@pytest.mark.parametrize("name", ["node_streams", "export_parameters"])
def test_the_schemas_are_valid_draft_2020_12(name):
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_there_are_real_world_examples():
    assert len(GRAPH_FILES) == 5
    assert len(NODE_YAMLS) == 7


@pytest.mark.parametrize("path", GRAPH_FILES, ids=lambda path: path.name)
def test_real_world_graphs_pass(path):
    report = check_graph(path)
    assert report.errors == []
    assert report.warnings == []


@pytest.mark.parametrize("path", NODE_YAMLS, ids=lambda path: path.parent.name + "/" + path.name)
def test_real_world_node_yamls_pass(path):
    report = check_node_yaml(path)
    assert report.errors == []
    assert report.warnings == []


# --- node YAMLs ----------------------------------------------------------------------------------------

KEY = "{chan_per_stream: 1, samp_per_stream: 1, sample_type: float32, nwb: {unit: pixels}}"


def node_problems(tmp_path: Path, outputs: str) -> tuple[list[str], list[str], str]:
    text = "RedisStreams:\n  Outputs:\n" + indent(dedent(outputs).strip("\n") + "\n", "    ")
    path = tmp_path / "node.yaml"
    path.write_text(text)
    report = check_node_yaml(path)
    return report.errors, report.warnings, f"node YAML {path}"


NODE_CASES = {
    "wrong type_nwb": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSerie
          samples: KEY
        """,
        "at $.RedisStreams.Outputs.s.type_nwb: type_nwb is not an NWB mechanism exportNWB knows. Fix: write one "
        "of TimeSeries, Position, SpikeTimes, Trial, TrialInfo (2022-07 spellings Time_Series, Spike_Times, "
        "Trial_Info also work).",
    ),
    "missing enable_nwb": (
        """
        s:
          type_nwb: TimeSeries
          samples: KEY
        """,
        "at $.RedisStreams.Outputs.s: missing the required key 'enable_nwb'. Fix: add the missing key to the "
        "stream definition (enable_nwb: True or False, the default export switch; type_nwb: TimeSeries, "
        "Position, SpikeTimes, Trial or TrialInfo).",
    ),
    "enable_nwb not a boolean": (
        """
        s:
          enable_nwb: yes please
          type_nwb: TimeSeries
          samples: KEY
        """,
        "at $.RedisStreams.Outputs.s.enable_nwb: 'yes please' is text, expected true or false. Fix: write "
        "enable_nwb: True or enable_nwb: False.",
    ),
    "chan_per_stream not an int nor an expression": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSeries
          samples: {chan_per_stream: n_channels, samp_per_stream: 1, sample_type: int16, nwb: {}}
        """,
        "at $.RedisStreams.Outputs.s.samples.chan_per_stream: the value is neither a positive integer nor a "
        "$parameter expression. Fix: write a positive integer (e.g. 96) or an expression over node parameters "
        "starting with '$' (e.g. '$n_channels' or '$n_channels * 2').",
    ),
    "samp_per_stream a float": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSeries
          samples: {chan_per_stream: 2, samp_per_stream: 1.5, sample_type: int16, nwb: {}}
        """,
        "at $.RedisStreams.Outputs.s.samples.samp_per_stream: the value is neither a positive integer nor a "
        "$parameter expression. Fix: write a positive integer (e.g. 96) or an expression over node parameters "
        "starting with '$' (e.g. '$n_channels' or '$n_channels * 2').",
    ),
    "unknown sample_type": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSeries
          samples: {chan_per_stream: 2, samp_per_stream: 1, sample_type: float65, nwb: {}}
        """,
        "at $.RedisStreams.Outputs.s.samples.sample_type: sample_type is not a numpy dtype name, 'str' or a "
        "$parameter. Fix: write a numpy dtype name (int8, int16, int32, int64, uint8, ..., float32, float64, "
        "bool), 'str' for text, or '$<node parameter>'.",
    ),
    "key block missing sample_type": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSeries
          samples: {chan_per_stream: 2, samp_per_stream: 1, nwb: {}}
        """,
        "at $.RedisStreams.Outputs.s.samples: missing the required key 'sample_type'. Fix: add the missing key "
        "to the key block (chan_per_stream: channels per entry, samp_per_stream: samples per entry, "
        "sample_type: a numpy dtype such as int16 or float32).",
    ),
    "misspelt stream setting": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSeries
          enabled: True
          samples: KEY
        """,
        "at $.RedisStreams.Outputs.s.enabled: True is a boolean, expected a mapping. Fix: each entry of a "
        "stream definition other than enable_nwb, type_nwb and sync is a key block: a mapping with "
        "chan_per_stream, samp_per_stream, sample_type (and nwb to export it); check the spelling of the "
        "stream settings.",
    ),
    "TimeSeries unit not text": (
        """
        s:
          enable_nwb: True
          type_nwb: TimeSeries
          samples: {chan_per_stream: 2, samp_per_stream: 1, sample_type: int16, nwb: {unit: [uV]}}
        """,
        "at $.RedisStreams.Outputs.s.samples.nwb.unit: ['uV'] is a list, expected text. Fix: give text here "
        "(quote it if YAML reads it as a number or date).",
    ),
    "Position resolution not a number": (
        """
        s:
          enable_nwb: True
          type_nwb: Position
          X: {chan_per_stream: 1, samp_per_stream: 1, sample_type: float32, nwb: {resolution: fine}}
        """,
        "at $.RedisStreams.Outputs.s.X.nwb.resolution: 'fine' is text, expected a number. Fix: give a number, "
        "e.g. 'resolution: 1.0' (-1.0 if unknown).",
    ),
    "Trial with start but no end indicators": (
        """
        s:
          enable_nwb: True
          type_nwb: Trial
          state: {chan_per_stream: 1, samp_per_stream: 1, sample_type: str, nwb: {start_trial_indicators: [go]}}
        """,
        "at $.RedisStreams.Outputs.s.state.nwb: missing the required key 'end_trial_indicators'. Fix: add both "
        "start_trial_indicators and end_trial_indicators (lists of state values, e.g. [start_time] and "
        "[end_time]) to this nwb block.",
    ),
    "Trial without any trial settings": (
        """
        s:
          enable_nwb: True
          type_nwb: Trial
          state: {chan_per_stream: 1, samp_per_stream: 1, sample_type: str, nwb: {}}
        """,
        "at $.RedisStreams.Outputs.s: no exported key's nwb block defines the trials (start_trial_indicators, "
        "end_trial_indicators). Fix: add them to the state key, e.g. 'nwb: {trial_state: state, "
        "start_trial_indicators: [start_time], end_trial_indicators: [end_time]}'.",
    ),
    "Trial without trial_state on a key not named state": (
        """
        s:
          enable_nwb: True
          type_nwb: Trial
          phase: {chan_per_stream: 1, samp_per_stream: 1, sample_type: str, nwb: {start_trial_indicators: [a], end_trial_indicators: [b]}}
        """,
        "at $.RedisStreams.Outputs.s.phase.nwb.trial_state: the state key 'state' is not declared in the stream "
        "(declared: phase); without trial_state exportNWB reads the key 'state'. Fix: set 'trial_state: <key>' "
        "to the key holding the task state.",
    ),
    "SpikeTimes without crossings": (
        """
        s:
          enable_nwb: True
          type_nwb: SpikeTimes
          crossings: {chan_per_stream: $n, samp_per_stream: 1, sample_type: int16, nwb: {}}
        """,
        "at $.RedisStreams.Outputs.s: no exported key's nwb block names the crossings key. Fix: add 'nwb: "
        "{crossings: <key>}' to the key holding the threshold crossings, e.g. 'crossings: {..., nwb: "
        "{crossings: crossings}}'.",
    ),
    "SpikeTimes crossings naming an undeclared key": (
        """
        s:
          enable_nwb: True
          type_nwb: Spike_Times
          crossings: {chan_per_stream: $n, samp_per_stream: 1, sample_type: int16, nwb: {crossings: spikes}}
        """,
        "at $.RedisStreams.Outputs.s.crossings.nwb.crossings: names key 'spikes', which the stream does not "
        "declare (declared: crossings). Fix: name a key of this stream.",
    ),
}


@pytest.mark.parametrize("case", NODE_CASES)
def test_node_yaml_mistake_gives_its_exact_line(tmp_path, case):
    outputs, expected = NODE_CASES[case]
    errors, warnings, label = node_problems(tmp_path, outputs.replace("KEY", KEY))
    assert errors == [f"{label}: {expected}"]
    assert warnings == []


def test_trial_without_trial_state_is_valid_when_the_key_is_named_state(tmp_path):
    errors, warnings, _ = node_problems(
        tmp_path,
        """
        s:
          enable_nwb: True
          type_nwb: Trial
          state: {chan_per_stream: 1, samp_per_stream: 1, sample_type: str, nwb: {start_trial_indicators: [a], end_trial_indicators: [b]}}
        """,
    )
    assert errors == warnings == []


def test_position_extra_nwb_key_is_a_warning_not_an_error(tmp_path):
    errors, warnings, label = node_problems(
        tmp_path,
        """
        s:
          enable_nwb: True
          type_nwb: Position
          X: {chan_per_stream: 1, samp_per_stream: 1, sample_type: float32, nwb: {unit: pixels, colour: red, comments: {a: 1}}}
        """,
    )
    assert errors == []
    assert warnings == [
        f"{label}: at $.RedisStreams.Outputs.s.X.nwb.colour: 'colour' is not a SpatialSeries argument "
        "(reference_frame, unit, conversion, resolution, description, offset); it is kept in the series' "
        "comments. Fix: remove it, or move it under 'comments:' to keep it on purpose."
    ]


def test_every_node_yaml_problem_is_reported_at_once(tmp_path):
    errors, _, _ = node_problems(
        tmp_path,
        """
        a:
          type_nwb: Positoin
          X: {chan_per_stream: 0, samp_per_stream: 1, sample_type: float32}
        b:
          enable_nwb: True
          type_nwb: SpikeTimes
          crossings: {chan_per_stream: 1, samp_per_stream: 1, sample_type: int16, nwb: {}}
        """,
    )
    paths = [line.split(": at ")[1].split(":")[0] for line in errors]
    assert paths == [
        "$.RedisStreams.Outputs.a",
        "$.RedisStreams.Outputs.a.X.chan_per_stream",
        "$.RedisStreams.Outputs.a.type_nwb",
        "$.RedisStreams.Outputs.b",
    ]


def test_node_yaml_without_redis_streams(tmp_path):
    path = write(tmp_path / "node.yaml", "parameters: {}\n")
    assert check_node_yaml(path).errors == [
        f"node YAML {path}: at $: missing the required key 'RedisStreams'. Fix: add 'RedisStreams:' with an "
        "'Outputs:' mapping of the streams the node writes."
    ]


def test_node_yaml_syntax_error_is_one_line(tmp_path):
    path = write(tmp_path / "node.yaml", "RedisStreams: [\n")
    (line,) = check_node_yaml(path).errors
    assert line.startswith(f"node YAML {path}: YAML syntax error at line 2")


# --- graphs --------------------------------------------------------------------------------------------

PARAMETERS = """\
derivatives:
  - nickname: exportNWB
    name: exportNWB.py
    parameters:
      participant_file: ../config/t0.yaml
      description: test
      sync_key: sync
      time_key: ts
      sync_timing_hz: 1000
      streams:
        binned_spikes: {sync: [nsp_idx_1], rate: 100}
"""


def graph_problems(tmp_path: Path, text: str, derivative: str | None = None) -> tuple[list[str], str]:
    path = write(tmp_path / "graph.yaml", text)
    return check_graph(path, derivative).errors, f"graph {path}"


def test_the_template_graph_is_valid(tmp_path):
    assert graph_problems(tmp_path, PARAMETERS)[0] == []


GRAPH_CASES = {
    "sync_timing_hz a string": (
        PARAMETERS.replace("sync_timing_hz: 1000", "sync_timing_hz: '1000'"),
        "at $.derivatives[0].parameters.sync_timing_hz: sync_timing_hz is neither a positive number nor a "
        "mapping of sync labels to positive numbers. Fix: write the sync clock rate in Hz as a number, e.g. "
        "'sync_timing_hz: 1000', or per label, e.g. 'sync_timing_hz: {nsp_idx_1: 30000, default_sync_rate: "
        "1000}' (no quotes).",
    ),
    "sync_timing_hz dict with a string": (
        PARAMETERS.replace("sync_timing_hz: 1000", "sync_timing_hz: {i: fast}"),
        "at $.derivatives[0].parameters.sync_timing_hz: sync_timing_hz is neither a positive number nor a "
        "mapping of sync labels to positive numbers. Fix: write the sync clock rate in Hz as a number, e.g. "
        "'sync_timing_hz: 1000', or per label, e.g. 'sync_timing_hz: {nsp_idx_1: 30000, default_sync_rate: "
        "1000}' (no quotes).",
    ),
    "streams entry with an unknown key": (
        PARAMETERS.replace("rate: 100}", "rate: 100, enabled: True}"),
        "at $.derivatives[0].parameters.streams.binned_spikes: Additional properties are not allowed "
        "('enabled' was unexpected). Fix: remove it or check its spelling: a stream entry takes enable, sync, "
        "rate and comments (the 2022-23 core form also source_node, name and '<graph key>: <node YAML key>' "
        "mappings).",
    ),
    "streams entry without sync": (
        PARAMETERS.replace("{sync: [nsp_idx_1], rate: 100}", "{rate: 100}"),
        "at $.derivatives[0].parameters.streams.binned_spikes: missing the required key 'sync'. Fix: add "
        "'sync: [<label>]' with the stream's blocking sync label first (exportNWB skips a stream without it).",
    ),
    "core form key mapping not text": (
        PARAMETERS.replace("rate: 100}", "source_node: bin_multiple, x: 3}"),
        "at $.derivatives[0].parameters.streams.binned_spikes.x: 3 is an integer, expected text. Fix: core "
        "form: other entries map a graph key to a node YAML key as text, e.g. 'x: X'; stream settings are "
        "enable, sync, rate, comments, source_node, name.",
    ),
    "enable not a boolean": (
        PARAMETERS.replace("rate: 100}", "enable: maybe}"),
        "at $.derivatives[0].parameters.streams.binned_spikes.enable: 'maybe' is text, expected true or false. "
        "Fix: write enable: True or enable: False.",
    ),
    "missing time_key": (
        PARAMETERS.replace("      time_key: ts\n", ""),
        "at $.derivatives[0].parameters: missing the required key 'time_key'. Fix: add the missing parameter "
        "(participant_file: the participant YAML; description: the session description; sync_key: sync; "
        "time_key: ts; streams: the streams to export); exportNWB stops without it.",
    ),
    "single-key list form": (
        "derivatives:\n  - exportNWB:\n      parameters:\n"
        + indent(
            PARAMETERS.split("parameters:\n")[1].replace("sync_timing_hz: 1000", "sync_timing_hz: -5"), "  "
        ),
        "at $.derivatives[0].exportNWB.parameters.sync_timing_hz: sync_timing_hz is neither a positive number "
        "nor a mapping of sync labels to positive numbers. Fix: write the sync clock rate in Hz as a number, "
        "e.g. 'sync_timing_hz: 1000', or per label, e.g. 'sync_timing_hz: {nsp_idx_1: 30000, "
        "default_sync_rate: 1000}' (no quotes).",
    ),
    "2022-07 enable_nwb not a boolean": (
        "derivatives:\n  - exportNWB:\n      parameters:\n        enable_nwb: {func_generator: on please}\n",
        "at $.derivatives[0].exportNWB.parameters.enable_nwb.func_generator: 'on please' is text, expected true "
        "or false. Fix: write True or False.",
    ),
    "no exportNWB derivative": (
        "derivatives:\n  - nickname: saveRDB\n    parameters: {}\n",
        "at $.derivatives: the graph has no exportNWB derivative. Fix: add a derivative with 'nickname: "
        "exportNWB' and its parameters, or pass --derivative <its nickname>.",
    ),
}


@pytest.mark.parametrize("case", GRAPH_CASES)
def test_graph_mistake_gives_its_exact_line(tmp_path, case):
    text, expected = GRAPH_CASES[case]
    errors, label = graph_problems(tmp_path, text)
    assert errors == [f"{label}: {expected}"]


def test_derivative_by_nickname_in_dict_form(tmp_path):
    text = "derivatives:\n  myExport:\n    parameters:\n      sync_timing_hz: '1000'\n      enable_nwb: {}\n"
    errors, label = graph_problems(tmp_path, text, derivative="myExport")
    assert [line.split(": at ")[1].split(":")[0] for line in errors] == [
        "$.derivatives.myExport.parameters.sync_timing_hz"
    ]
    errors, label = graph_problems(tmp_path, text, derivative="other")
    assert errors == [
        f"{label}: at $.derivatives: the graph has no derivative named 'other' (derivatives: myExport). "
        "Fix: fix 'derivatives'."
    ]


# --- participant and devices -----------------------------------------------------------------------------

DEVICES = [{"name": "NeuroPort8x8", "electrode_qty": 64}, {"name": "NeuroPort10x10", "electrode_qty": 96}]


def participant_with(tmp_path: Path, devices: list[str]) -> Path:
    implants = [
        {"name": f"array {i}", "location": "6v", "device": device} for i, device in enumerate(devices)
    ]
    path = tmp_path / "t0.yaml"
    path.write_text(yaml.safe_dump({"metadata": {"participant_id": "t0"}, "implants": implants}))
    return path


def test_every_implant_with_an_unknown_device_is_reported(tmp_path):
    participant = participant_with(tmp_path, ["NeuroPort8x8", "Utah", "NeuroPort10x10", "Utah96"])
    devices = tmp_path / "devices.yaml"
    devices.write_text(yaml.safe_dump(DEVICES))
    participant_report, devices_report = check_participant_files(participant, devices)
    assert devices_report.ok
    assert participant_report.errors == [
        f"participant file {participant}: implants[{index}].device: '{name}' is not in devices.yaml ({devices}); "
        "known devices: NeuroPort8x8, NeuroPort10x10. Fix the implant's device or add the device to the "
        "devices file."
        for index, name in ((1, "Utah"), (3, "Utah96"))
    ]


def test_participant_and_devices_schema_problems_are_all_listed(tmp_path):
    participant = tmp_path / "t0.yaml"
    participant.write_text("implants:\n  - {name: array 1}\n  - {location: 6v, device: X}\n")
    devices = tmp_path / "devices.yaml"
    devices.write_text("- {name: NeuroPort8x8, electrode_qty: -1}\n")
    participant_report, devices_report = check_participant_files(participant, devices)
    assert [line.split(": at ")[1].split(":")[0] for line in participant_report.errors] == [
        "$.implants[0]",
        "$.implants[0]",
        "$.implants[1]",
    ]
    assert all(line.startswith(f"participant file {participant}: at $") for line in participant_report.errors)
    assert len(devices_report.errors) == 1
    assert devices_report.errors[0].startswith(f"devices file {devices}: at $[0].electrode_qty: ")


def test_participant_alone_is_checked_without_cross_check(tmp_path):
    participant = participant_with(tmp_path, ["Utah"])
    (report,) = check_participant_files(participant, None)
    assert report.ok


# --- specification and NWB file ----------------------------------------------------------------------------


def test_specification_problems_come_from_the_run_yaml_checks(tmp_path):
    spec = write(tmp_path / "spec.yaml", "data_interfaces: {}\n")
    assert check_specification(spec).errors == [
        f"{spec.resolve()}: at $: missing the required key 'experiments'. Fix: add the missing top-level key: "
        "'data_interfaces' maps your names to interface classes (e.g. 'brand: BrandConverter'); 'experiments' "
        "maps experiment names to their 'sessions' list.",
        f"{spec.resolve()}: at $.data_interfaces: {{}} should be non-empty. Fix: name at least one interface, "
        "e.g. 'data_interfaces: {brand: BrandConverter}'.",
    ]


def test_nwb_file_best_practice_violations_are_errors(tmp_path):
    from datetime import datetime, timezone

    from pynwb import NWBHDF5IO, NWBFile

    path = tmp_path / "bare.nwb"
    nwbfile = NWBFile("bare", "bare-id", datetime(2024, 1, 1, tzinfo=timezone.utc))
    with NWBHDF5IO(path, "w") as io:
        io.write(nwbfile)
    report = inspect_nwb(path)
    assert not report.ok
    assert any("check_subject_exists" in line for line in report.errors)
    assert all(line.startswith(f"NWB file {path}: at /") and ". Fix: " in line for line in report.errors)


def test_unreadable_nwb_file_is_one_line(tmp_path):
    path = tmp_path / "broken.nwb"
    path.write_text("not an NWB file")
    (line,) = inspect_nwb(path).errors
    assert "\n" not in line
    assert line.startswith(
        f"NWB file {path}: at /: nwbinspector could not check it: ValueError: Unable to read file"
    )
    assert line.endswith(
        "Fix: check that this is a complete NWB file (HDF5 or Zarr) from a finished conversion."
    )


def test_paths_quote_names_as_jsonschema_does(tmp_path):
    errors, warnings, _ = node_problems(
        tmp_path,
        """
        cursor data:
          enable_nwb: True
          type_nwb: Position
          X: {chan_per_stream: 1, samp_per_stream: 0, sample_type: float32, nwb: {gain: 2}}
        """,
    )
    assert [line.split(": at ")[1].split(":")[0] for line in errors + warnings] == [
        "$.RedisStreams.Outputs['cursor data'].X.samp_per_stream",
        "$.RedisStreams.Outputs['cursor data'].X.nwb.gain",
    ]
