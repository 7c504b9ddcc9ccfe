"""``validate`` and ``convert`` agree on every graph of the test suite: a graph validate accepts converts, and the
mechanism rules reject the same node YAMLs on both sides (both call the functions of ``mechanisms/``)."""

from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from pynwb import read_nwb

from neuroconv_brand import BrandConverter
from neuroconv_brand.apps.validation import check_node_yaml, check_participant_files
from neuroconv_brand.errors import GraphError
from neuroconv_brand.graph.stream_specs import KeySpec, StreamSpec, normalize_type_nwb
from neuroconv_brand.mechanisms.crossings import crossings_key
from neuroconv_brand.mechanisms.trial_definition import read_trial_definition
from neuroconv_brand.testing import SessionConfig, save_session_rdb

GRAPHS = Path(__file__).parents[1] / "data" / "graphs"
REAL_WORLD_NODE_YAMLS = sorted(GRAPHS.rglob("nodes/*/*.yaml"))
ERAS = ("2022-07", "2022-core", "2023", "2024", "2025")
#: What the convert side checks of each mechanism when an interface is built.
CONVERT_RULES = {"Trial": read_trial_definition, "SpikeTimes": crossings_key}

KEY = "{chan_per_stream: 1, samp_per_stream: 1, sample_type: %s, nwb: %s}"
#: Node YAML outputs that keep or break one mechanism rule each -> whether the rules accept them.
MECHANISM_CASES = {
    "trial settings on the key named state": (True, "Trial", {"state": ("str", "{start_trial_indicators: [a], end_trial_indicators: [b]}")}),
    "trial_state names the state key": (True, "Trial", {"phase": ("str", "{trial_state: phase, start_trial_indicators: [a], end_trial_indicators: [b]}")}),
    "no trial settings": (False, "Trial", {"state": ("str", "{}")}),
    "trial settings on a key not named state, no trial_state": (False, "Trial", {"phase": ("str", "{start_trial_indicators: [a], end_trial_indicators: [b]}")}),
    "trial_state names an undeclared key": (False, "Trial", {"state": ("str", "{trial_state: task, start_trial_indicators: [a], end_trial_indicators: [b]}")}),
    "two keys carry trial settings": (False, "Trial", {"state": ("str", "{start_trial_indicators: [a], end_trial_indicators: [b]}"), "other": ("str", "{trial_state: state}")}),
    "crossings named": (True, "SpikeTimes", {"crossings": ("int16", "{crossings: crossings}")}),
    "crossings not named": (False, "SpikeTimes", {"crossings": ("int16", "{}")}),
    "crossings naming an undeclared key": (False, "SpikeTimes", {"crossings": ("int16", "{crossings: spikes}")}),
}  # fmt: skip


def stream_specs(path: Path) -> list[StreamSpec]:
    """The Trial and SpikeTimes streams of a node YAML as the graph layer sees them (numeric keys as declared)."""
    document = yaml.safe_load(path.read_text())
    outputs = document.get("RedisStreams", {}).get("Outputs") or {}
    specs = []
    for stream, definition in outputs.items():
        type_nwb = normalize_type_nwb(definition.get("type_nwb"))
        if type_nwb not in CONVERT_RULES:
            continue
        keys = {
            name: KeySpec(
                name,
                dtype="str" if block.get("sample_type") == "str" else "float64",
                nwb=block["nwb"] if isinstance(block.get("nwb"), dict) else None,
            )
            for name, block in definition.items()
            if isinstance(block, dict)
        }
        specs.append(StreamSpec(stream, type_nwb=type_nwb, enabled=True, keys=keys))
    return specs


def convert_problems(path: Path) -> list[str]:
    problems = []
    for spec in stream_specs(path):
        try:
            CONVERT_RULES[spec.type_nwb](spec)
        except GraphError as error:
            problems.append(str(error))
    return problems


def write_node_yaml(folder: Path, type_nwb: str, keys: dict) -> Path:
    lines = ["RedisStreams:", "  Outputs:", "    s:", "      enable_nwb: True", f"      type_nwb: {type_nwb}"]
    lines += [f"      {name}: {KEY % (dtype, nwb)}" for name, (dtype, nwb) in keys.items()]
    path = folder / "node.yaml"
    path.write_text(dedent("\n".join(lines)) + "\n")
    return path


def test_the_suite_has_node_yamls_with_each_mechanism():
    mechanisms = {spec.type_nwb for path in REAL_WORLD_NODE_YAMLS for spec in stream_specs(path)}
    assert mechanisms == {"Trial", "SpikeTimes"}


@pytest.mark.parametrize("path", REAL_WORLD_NODE_YAMLS, ids=lambda path: path.parent.name)
def test_real_world_node_yamls_pass_both(path):
    assert check_node_yaml(path).errors == []
    assert convert_problems(path) == []


@pytest.mark.parametrize("case", MECHANISM_CASES)
def test_each_mechanism_rule_gives_the_same_verdict(tmp_path, case):
    accepted, type_nwb, keys = MECHANISM_CASES[case]
    path = write_node_yaml(tmp_path, type_nwb, keys)
    validate_errors, convert_errors = check_node_yaml(path).errors, convert_problems(path)
    assert (validate_errors == [], convert_errors == []) == (accepted, accepted), (
        validate_errors,
        convert_errors,
    )


@pytest.mark.slow
@pytest.mark.parametrize("era", ERAS)
def test_each_generated_graph_validates_and_converts(tmp_path, era):
    truth = save_session_rdb(SessionConfig(era=era, duration_s=3.0, seed=3), tmp_path / "s.rdb", tmp_path)
    for path in truth.node_yaml_files.values():
        assert check_node_yaml(path).errors == [], path
        assert convert_problems(path) == [], path
    reports = check_participant_files(truth.participant_file, truth.devices_file)
    assert [error for report in reports for error in report.errors] == []
    converter = BrandConverter(
        file_path=tmp_path / "s.rdb",
        participant_file=truth.participant_file,
        devices_file=truth.devices_file,
        brand_base_dir=truth.brand_base_dir,
    )
    converter.run_conversion(nwbfile_path=tmp_path / "s.nwb")
    nwbfile = read_nwb(tmp_path / "s.nwb")
    assert len(truth.trials) > 0
    assert len(nwbfile.trials) == len(truth.trials)
    assert len(nwbfile.units) > 0
