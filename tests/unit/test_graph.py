"""Supergraph parsing for every BRAND era (:mod:`neuroconv_brand.graph.eras`), from real-world-shaped graphs and node YAMLs.

Graph YAMLs and node YAMLs live in ``tests/data/graphs``; each test copies the node YAMLs into ``tmp_path``
in BRAND's layout (``<base>/../brand-modules/<module>/nodes/<name>/<name>.yaml``) and builds the supergraph
the way the supervisor of that era did.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from neuroconv_brand.errors import GraphError
from neuroconv_brand.graph.eras import normalize_derivatives, parse_sync_timing
from neuroconv_brand.graph.node_yaml import NodeYamlStore
from neuroconv_brand.graph.stream_specs import KeySpec, StreamSpec, SyncTiming
from neuroconv_brand.graph.supergraph import Graph

GRAPHS = Path(__file__).parents[1] / "data" / "graphs"


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    """A BRAND checkout at ``tmp_path/brand`` with modules beside it, as on a rig."""
    shutil.copytree(GRAPHS / "brand-modules", tmp_path / "brand-modules")
    shutil.copytree(GRAPHS / "brand", tmp_path / "brand")
    return tmp_path / "brand"


def graph_yaml(name: str) -> dict:
    return yaml.safe_load((GRAPHS / name).read_text())


def supergraph_2024(graph: dict, graph_name: str) -> dict:
    """The dev supervisor's model: nodes and derivatives keyed by nickname; graph `parameters` not copied."""
    return {
        "redis_host": "127.0.0.1",
        "redis_port": 6379,
        "graph_name": graph_name,
        "graph_loaded_ts": 12590134766400,
        "nodes": {node["nickname"]: {**node, "binary": "/bin/true"} for node in graph["nodes"]},
        "derivatives": {d["nickname"]: {**d, "machine": "brand"} for d in graph.get("derivatives", [])},
        "rdb_dirpath": "/data/t16/2024-05-01/RawData/RDB",
        "rdb_filename": f"t16_240501T1200_{graph_name}.rdb",
    }


def supergraph_2023(graph: dict, graph_name: str) -> dict:
    """The 2023 release's model: derivatives = {key: value} from the YAML list of single-key dicts."""
    derivatives = {}
    for item in graph.get("derivatives", []):
        ((key, value),) = item.items()
        derivatives[key] = {**value, "git_hash": "abc123"}
    return {
        "redis_host": "127.0.0.1",
        "redis_port": 6379,
        "brand_hash": "0123abcd",
        "graph_name": graph_name,
        "graph_loaded_ts": 5_000_000_000,
        "nodes": {
            node["nickname"]: {**node, "git_hash": "abc123", "binary": "/bin/true"} for node in graph["nodes"]
        },
        "derivatives": derivatives,
    }


def supergraph_2022_07(graph: dict) -> dict:
    derivatives = {}
    for item in graph["derivatives"]:
        ((key, value),) = item.items()
        derivatives[key] = value
    return {
        "metadata": graph["metadata"],
        "nodes": {node["nickname"]: node for node in graph["nodes"]},
        "derivatives": derivatives,
    }


def nsp_all_model() -> dict:
    return supergraph_2024(graph_yaml("nsp_all_graph.yaml"), "nsp_all_graph")


def radial_model() -> dict:
    return json.loads((GRAPHS / "radialFSM_supergraph_2025.json").read_text())


def brand_nsp_yaml(base_dir: Path, name: str) -> Path:
    return base_dir.parent / "brand-modules" / "brand-nsp" / "nodes" / name / f"{name}.yaml"


NSP_SYNC = SyncTiming(default_rate=1000.0, label_rates={})


# -- 2024 dev: derivatives keyed by nickname, definitions from node YAMLs -------------------------------


def test_2024_nsp_all_graph(base_dir: Path) -> None:
    model = nsp_all_model()
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)

    assert graph.era == "2024"
    assert graph.graph_name == "nsp_all_graph"
    assert graph.graph_loaded_ts == 12590134766400
    assert graph.participant_id is None
    assert graph.derivative_name == "exportNWB"
    assert graph.export_parameters == model["derivatives"]["exportNWB"]["parameters"]
    assert graph.participant_file == "../config/t16/t16.yaml"
    assert graph.devices_file == "../config/devices.yaml"
    assert graph.description == "recording autocue data from center out task and display"
    assert (graph.sync_key, graph.time_key) == ("sync", "ts")
    assert graph.sync_timing == NSP_SYNC
    assert graph.nodes == model["nodes"]
    assert graph.problems == []
    assert list(graph.streams) == ["reref_neural", "thresh_cross", "sbp", "binned_spikes", "nsp_neural"]
    assert list(graph.enabled_streams) == ["thresh_cross", "sbp", "binned_spikes"]

    assert graph.streams["reref_neural"] == StreamSpec(
        name="reref_neural",
        type_nwb="TimeSeries",
        enabled=False,
        enable_reason="graph enable: false",
        keys={
            "samples": KeySpec(
                name="samples",
                chan=256,
                samp=30,
                dtype="float32",
                layout="channel-major",
                nwb={"unit": "0.25uV", "description": "Re-referenced raw broadband data from Cerebus"},
            )
        },
        sync_labels=["nsp_idx_1"],
        rate=None,
        sync_key="sync",
        time_key="ts",
        sync_timing=NSP_SYNC,
        source_nickname="nsp_all",
        comments={},
    )
    assert graph.streams["thresh_cross"] == StreamSpec(
        name="thresh_cross",
        type_nwb="SpikeTimes",
        enabled=True,
        enable_reason="graph enable: true",
        keys={"crossings": KeySpec("crossings", 256, 1, "int16", "sample-major", {"crossings": "crossings"})},
        sync_labels=["nsp_idx_1"],
        rate=1000.0,
        sync_timing=NSP_SYNC,
        source_nickname="nsp_all",
    )
    assert graph.streams["sbp"] == StreamSpec(
        name="sbp",
        type_nwb="TimeSeries",
        enabled=True,
        enable_reason="graph enable: true",
        keys={
            "samples": KeySpec(
                "samples",
                256,
                1,
                "float32",
                "sample-major",
                {"unit": "(0.25uV)^2", "description": "Power within a frequency band"},
            )
        },
        sync_labels=["nsp_idx_1"],
        rate=1000.0,
        sync_timing=NSP_SYNC,
        source_nickname="nsp_all",
    )
    # `$n_channels * 2` and `$output_dtype` substituted from nodes['nsp_all'].parameters.
    assert graph.streams["binned_spikes"] == StreamSpec(
        name="binned_spikes",
        type_nwb="TimeSeries",
        enabled=True,
        enable_reason="graph enable: true",
        keys={
            "samples": KeySpec(
                "samples",
                512,
                1,
                "float32",
                "sample-major",
                {"unit": "spikes", "description": "spike counts"},
            )
        },
        sync_labels=["nsp_idx_1"],
        rate=100.0,
        sync_timing=NSP_SYNC,
        source_nickname="nsp_all",
    )
    # Written by the acquisition node, not listed for export: catalogued, with single-item lists unwrapped.
    assert graph.streams["nsp_neural"] == StreamSpec(
        name="nsp_neural",
        type_nwb="TimeSeries",
        enabled=False,
        enable_reason="not listed in exportNWB streams",
        keys={
            "samples": KeySpec(
                "samples",
                256,
                30,
                "int16",
                "channel-major",
                {"unit": "0.25uV", "description": "Raw broadband data from Cerebus"},
            )
        },
        sync_labels=[],
        rate=None,
        sync_timing=NSP_SYNC,
        source_nickname="nsp_in",
    )
    assert graph.get_stream("sbp") is graph.streams["sbp"]


def test_graph_yaml_lists_are_accepted_like_the_supergraph(base_dir: Path) -> None:
    graph_from_yaml = Graph.from_supergraph(graph_yaml("nsp_all_graph.yaml"), brand_base_dir=base_dir)
    graph_from_model = Graph.from_supergraph(nsp_all_model(), brand_base_dir=base_dir)
    assert graph_from_yaml.era == "2024"
    assert graph_from_yaml.graph_name is None
    assert graph_from_yaml.streams == graph_from_model.streams
    assert list(graph_from_yaml.nodes) == ["nsp_in", "nsp_all"]


def test_from_json_equals_from_supergraph(base_dir: Path) -> None:
    model = nsp_all_model()
    assert Graph.from_json(json.dumps(model), brand_base_dir=base_dir) == Graph.from_supergraph(
        model, brand_base_dir=base_dir
    )
    assert Graph.from_json(json.dumps(model).encode(), brand_base_dir=base_dir).era == "2024"


def test_missing_brand_base_dir_catalogues_streams_and_says_what_to_do() -> None:
    graph = Graph.from_supergraph(nsp_all_model())
    advice = (
        "node YAML of node 'nsp_all' (name 'nsp_all', module '../brand-modules/brand-nsp') not located; "
        "pass brand_base_dir (--brand-base-dir; the BRAND checkout the session ran from) or node_yaml_paths={'nsp_all': <path>}"
    )
    assert graph.problems == [
        f"stream '{name}': {advice}" for name in ("reref_neural", "thresh_cross", "sbp", "binned_spikes")
    ]
    for name in ("reref_neural", "thresh_cross", "sbp", "binned_spikes"):
        spec = graph.streams[name]
        assert (spec.enabled, spec.enable_reason, spec.type_nwb, spec.keys) == (
            False,
            "node YAML not found",
            None,
            {},
        )
        assert spec.source_nickname == "nsp_all"
        assert spec.sync_labels == ["nsp_idx_1"]
    assert graph.streams["nsp_neural"].enable_reason == "not listed in exportNWB streams"
    assert graph.enabled_streams == {}


def test_wrong_brand_base_dir_names_the_path_tried(tmp_path: Path) -> None:
    graph = Graph.from_supergraph(nsp_all_model(), brand_base_dir=tmp_path / "brand")
    expected_path = tmp_path / "brand-modules" / "brand-nsp" / "nodes" / "nsp_all" / "nsp_all.yaml"
    assert graph.problems[0] == (
        f"stream 'reref_neural': node YAML not found at {expected_path}; check brand_base_dir or pass "
        "node_yaml_paths={'nsp_all': <path>}"
    )
    assert graph.streams["thresh_cross"].enable_reason == "node YAML not found"


def test_explicit_node_yaml_paths_replace_the_base_dir(base_dir: Path) -> None:
    paths = {
        "nsp_all": brand_nsp_yaml(base_dir, "nsp_all"),  # by node name
        "nsp_in": str(brand_nsp_yaml(base_dir, "cerebusAdapterGem")),  # by nickname
    }
    graph = Graph.from_supergraph(nsp_all_model(), node_yaml_paths=paths)
    assert graph.problems == []
    assert graph.streams == Graph.from_supergraph(nsp_all_model(), brand_base_dir=base_dir).streams


def test_unused_node_yaml_path_is_reported(base_dir: Path) -> None:
    graph = Graph.from_supergraph(
        nsp_all_model(),
        brand_base_dir=base_dir,
        node_yaml_paths={"nsp_al": brand_nsp_yaml(base_dir, "nsp_all")},
    )
    assert graph.problems == [
        "node_yaml_paths entry 'nsp_al' matches no node name or nickname in the graph; unused"
    ]


def test_node_yaml_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        GraphError, match=re.escape(f"node_yaml_paths gives {tmp_path / 'x.yaml'} for node 'nsp_all'")
    ):
        Graph.from_supergraph(nsp_all_model(), node_yaml_paths={"nsp_all": tmp_path / "x.yaml"})


def test_module_paths_are_normalised_against_the_base_dir(tmp_path: Path) -> None:
    store = NodeYamlStore(tmp_path / "brand")
    node = {"name": "nsp_all", "module": "../brand-modules/brand-nsp"}
    assert store.default_path(node) == tmp_path / "brand-modules/brand-nsp/nodes/nsp_all/nsp_all.yaml"
    assert store.default_path({"name": "func_generator.bin", "module": "."}) == (
        tmp_path / "brand/nodes/func_generator/func_generator.yaml"
    )
    assert store.default_path({"name": "x"}) == tmp_path / "brand/nodes/x/x.yaml"
    assert NodeYamlStore(None).default_path(node) is None


def test_yaml_stream_missing_from_the_node_yaml(base_dir: Path) -> None:
    model = nsp_all_model()
    model["nodes"]["nsp_all"]["redis_outputs"]["sbp"] = "bandPower"
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.streams["sbp"].enabled is False
    assert graph.streams["sbp"].enable_reason == "stream definition not found"
    assert graph.problems == [
        f"stream 'sbp': node YAML {brand_nsp_yaml(base_dir, 'nsp_all')} defines no output stream 'bandPower' "
        "(it defines: rerefContinuousNeural, band_power, thresh_cross, filtered, rms_continuous, "
        "binned_spikes); is it the YAML of the node version that recorded the session?"
    ]


def test_listed_stream_that_no_node_writes(base_dir: Path) -> None:
    model = nsp_all_model()
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["cursorData"] = {"sync": ["nsp_idx_1"]}
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    spec = graph.streams["cursorData"]
    assert (spec.enabled, spec.enable_reason, spec.type_nwb, spec.source_nickname) == (
        False,
        "no node writes it",
        None,
        None,
    )
    assert graph.problems == [
        "stream 'cursorData' is listed for export, but no node lists it in redis_outputs; "
        "it cannot be exported"
    ]


def test_node_enable_nwb_is_used_when_the_graph_has_no_enable(base_dir: Path) -> None:
    model = nsp_all_model()
    streams = model["derivatives"]["exportNWB"]["parameters"]["streams"]
    del streams["thresh_cross"]["enable"]
    del streams["sbp"]["enable"]
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert (graph.streams["thresh_cross"].enabled, graph.streams["thresh_cross"].enable_reason) == (
        True,
        "node enable_nwb: true",
    )
    assert (graph.streams["sbp"].enabled, graph.streams["sbp"].enable_reason) == (
        False,
        "node enable_nwb: false",
    )


def test_derivative_found_by_name_and_by_argument(base_dir: Path) -> None:
    model = nsp_all_model()
    model["derivatives"] = {"nwb": {**model["derivatives"]["exportNWB"], "nickname": "nwb"}}
    assert Graph.from_supergraph(model, brand_base_dir=base_dir).derivative_name == "nwb"  # name exportNWB.py
    model["derivatives"]["nwb"]["name"] = "my_export.py"
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.derivative_name is None
    assert graph.streams["thresh_cross"].enable_reason == "no exportNWB derivative in the graph"
    assert (
        Graph.from_supergraph(model, brand_base_dir=base_dir, derivative="my_export.py").derivative_name
        == "nwb"
    )
    assert Graph.from_supergraph(model, brand_base_dir=base_dir, derivative="nwb").enabled_streams.keys() == {
        "thresh_cross",
        "sbp",
        "binned_spikes",
    }


def test_graph_without_export_derivative_still_catalogues_streams(base_dir: Path) -> None:
    model = nsp_all_model()
    model["derivatives"] = {}
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.derivative_name is None
    assert graph.export_parameters == {}
    assert graph.description is None
    assert graph.sync_timing == SyncTiming()
    assert graph.problems == []
    assert list(graph.streams) == ["nsp_neural", "reref_neural", "thresh_cross", "sbp", "binned_spikes"]
    for spec in graph.streams.values():
        assert (spec.enabled, spec.enable_reason) == (False, "no exportNWB derivative in the graph")
    assert graph.streams["binned_spikes"].keys["samples"].chan == 512
    assert graph.streams["sbp"].type_nwb == "TimeSeries"


def test_missing_sync_key_and_time_key_default_with_a_note(base_dir: Path) -> None:
    model = nsp_all_model()
    parameters = model["derivatives"]["exportNWB"]["parameters"]
    del parameters["sync_key"], parameters["time_key"]
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert (graph.sync_key, graph.time_key) == ("sync", "ts")
    assert graph.problems == [
        "exportNWB parameters have no 'sync_key'; using 'sync'",
        "exportNWB parameters have no 'time_key'; using 'ts'",
    ]


def test_custom_sync_and_time_keys_reach_every_stream(base_dir: Path) -> None:
    model = nsp_all_model()
    model["derivatives"]["exportNWB"]["parameters"].update(sync_key="sync_dict", time_key="BRAND_time")
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert {(s.sync_key, s.time_key) for s in graph.streams.values()} == {("sync_dict", "BRAND_time")}


def test_enabled_stream_without_sync_labels_is_noted(base_dir: Path) -> None:
    model = nsp_all_model()
    del model["derivatives"]["exportNWB"]["parameters"]["streams"]["sbp"]["sync"]
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.streams["sbp"].enabled is True
    assert graph.streams["sbp"].sync_labels == []
    assert graph.problems == [
        "stream 'sbp' has no sync labels in the graph (exportNWB requires 'sync'); its times must come from "
        "another clock"
    ]


def test_errors_in_a_disabled_stream_are_problems_not_failures(base_dir: Path) -> None:
    model = nsp_all_model()
    del model["nodes"]["nsp_all"]["parameters"]["output_dtype"]
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["binned_spikes"]["enable"] = False
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    path = brand_nsp_yaml(base_dir, "nsp_all")
    assert graph.streams["reref_neural"].keys == {}
    assert graph.streams["reref_neural"].type_nwb is None
    assert graph.problems[0].startswith(
        f"node 'nsp_all' stream 'reref_neural' (node YAML stream 'rerefContinuousNeural') "
        f"[node YAML {path}], key 'samples', sample_type: '$output_dtype': unknown parameter '$output_dtype'"
    )
    assert graph.problems[0].endswith("(not exported: graph enable: false)")
    assert graph.problems[1].endswith("(not exported: graph enable: false)")
    assert len(graph.problems) == 2
    assert graph.streams["thresh_cross"].keys["crossings"].chan == 256


# -- 2023 release: list-form derivatives, sync_timing_hz scalar and dict ----------------------------------


def replay_expected(name: str, label: str) -> StreamSpec:
    return StreamSpec(
        name=name,
        type_nwb="SpikeTimes",
        enabled=True,
        enable_reason="graph enable: true",
        keys={"crossings": KeySpec("crossings", 96, 1, "int16", "sample-major", {"crossings": "crossings"})},
        sync_labels=[label],
        rate=1000.0,
        sync_timing=SyncTiming(default_rate=30000.0),
        source_nickname=name,
    )


def test_2023_test_with_replay(base_dir: Path) -> None:
    graph_file = graph_yaml("testWithReplay.yaml")
    model = supergraph_2023(graph_file, "testWithReplay")
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)

    assert graph.era == "2023"
    assert graph.graph_name == "testWithReplay"
    assert graph.graph_loaded_ts == 5_000_000_000
    assert graph.derivative_name == "exportNWB"
    assert graph.export_parameters["norm_stream"] == ["normalize_exit_parameters", "normalization_parameters"]
    assert graph.description == "Test replay"
    assert graph.participant_file == "../Data/sim/sim.yaml"
    assert graph.devices_file == "../Data/devices.yaml"
    assert graph.sync_timing == SyncTiming(default_rate=30000.0)
    assert graph.problems == []
    assert list(graph.streams) == ["thresh_cross_1", "thresh_cross_2", "binned_spikes"]
    # Two nodes share thresholdExtraction.yaml; each gets its own nickname and parameters.
    assert graph.streams["thresh_cross_1"] == replay_expected("thresh_cross_1", "nsp_idx_1")
    assert graph.streams["thresh_cross_2"] == replay_expected("thresh_cross_2", "nsp_idx_2")
    assert graph.streams["binned_spikes"] == StreamSpec(
        name="binned_spikes",
        type_nwb="TimeSeries",
        enabled=True,
        enable_reason="node enable_nwb: true",
        keys={
            "samples": KeySpec(
                "samples",
                192,
                1,
                "int8",
                "sample-major",
                {"unit": "spikes", "description": "binned threshold crossings"},
            )
        },
        sync_labels=["nsp_idx_1", "nsp_idx_2"],
        rate=100.0,
        sync_timing=SyncTiming(default_rate=30000.0),
        source_nickname="bin_multiple",
    )
    # The YAML list form (as the graph file has it) gives the same streams.
    listed = {**model, "derivatives": graph_file["derivatives"]}
    assert Graph.from_supergraph(listed, brand_base_dir=base_dir).streams == graph.streams


def test_2023_test_car_dict_sync_timing_and_bare_sync_label(base_dir: Path) -> None:
    graph = Graph.from_supergraph(
        supergraph_2023(graph_yaml("test_CAR.yaml"), "test_CAR"), brand_base_dir=base_dir
    )
    timing = SyncTiming(default_rate=1000.0, label_rates={"i": 30000.0})
    assert graph.era == "2023"
    assert graph.sync_timing == timing
    assert graph.sync_timing.rate_of("i") == 30000.0
    assert graph.problems == []
    assert graph.streams == {
        "func_generator": StreamSpec(
            name="func_generator",
            type_nwb="TimeSeries",
            enabled=True,
            enable_reason="graph enable: true",
            keys={
                "samples": KeySpec(
                    "samples",
                    128,
                    30,
                    "float64",
                    "sample-major",
                    {"unit": "n/a", "description": "arbitrary generated features"},
                )
            },
            sync_labels=["i"],
            sync_timing=timing,
            source_nickname="func_generator",
        ),
        "test_node_filt": StreamSpec(
            name="test_node_filt",
            type_nwb="TimeSeries",
            enabled=True,
            enable_reason="graph enable: true",  # overrides the node YAML's enable_nwb: False
            keys={"samples": KeySpec("samples", 128, 30, "int16", "sample-major", {"unit": "0.25uV"})},
            sync_labels=["i"],
            sync_timing=timing,
            source_nickname="test_node",
        ),
        "test_node": StreamSpec(
            name="test_node",
            type_nwb="SpikeTimes",
            enabled=True,
            enable_reason="graph enable: true",
            keys={
                "crossings": KeySpec("crossings", 128, 1, "int16", "sample-major", {"crossings": "crossings"})
            },
            sync_labels=["i"],
            sync_timing=timing,
            source_nickname="test_node",
        ),
    }


def test_2023_unknown_parameter_in_an_enabled_stream_is_an_error(base_dir: Path) -> None:
    model = supergraph_2023(graph_yaml("testWithReplay.yaml"), "testWithReplay")
    del model["nodes"]["bin_multiple"]["parameters"]["output_dtype"]
    path = brand_nsp_yaml(base_dir, "bin_multiple")
    with pytest.raises(GraphError) as caught:
        Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert str(caught.value).startswith(
        f"node 'bin_multiple' stream 'binned_spikes' [node YAML {path}], key 'samples', sample_type: "
        "'$output_dtype': unknown parameter '$output_dtype' (the node's parameters are: bin_size, "
        "chan_per_stream"
    )


# -- 2025 / Emory: compiled stream definitions in the supergraph --------------------------------------------


RADIAL_TIMING = SyncTiming(default_rate=30000.0, label_rates={"nsp_idx_1": 1000.0})
CURSOR_KEYS = {
    "X": KeySpec(
        "X",
        1,
        1,
        "float32",
        "sample-major",
        {
            "reference_frame": "center of the screen",
            "unit": "pixels",
            "resolution": 1.0,
            "description": "cursor x position",
        },
    ),
    "Y": KeySpec(
        "Y",
        1,
        1,
        "float32",
        "sample-major",
        {
            "reference_frame": "center of the screen",
            "unit": "pixels",
            "resolution": 1.0,
            "description": "cursor y position",
        },
    ),
    "radius": KeySpec("radius", 1, 1, "float32", "sample-major", None),
}


def test_2025_compiled_streams_need_no_node_yaml() -> None:
    model = radial_model()
    graph = Graph.from_supergraph(model)

    assert graph.era == "2025"
    assert graph.graph_name == "radialFSM_closed_loop"
    assert graph.graph_loaded_ts == 12590134766400
    assert graph.participant_id == "t0"
    assert graph.derivative_name == "exportNWB"
    assert graph.description == "radial target task"
    assert graph.sync_timing == RADIAL_TIMING
    assert graph.problems == []
    assert list(graph.streams) == ["binned_spikes", "cursorData", "targetData", "state", "trial_success"]
    assert graph.streams["binned_spikes"] == StreamSpec(
        name="binned_spikes",
        type_nwb="TimeSeries",
        enabled=True,
        enable_reason="node enable_nwb: true",
        keys={
            "samples": KeySpec(
                "samples",
                192,
                1,
                "int8",
                "sample-major",
                {"unit": "spikes", "description": "binned threshold crossings"},
            )
        },
        sync_labels=["nsp_idx_1"],
        rate=100.0,
        sync_timing=RADIAL_TIMING,
        source_nickname="bin_multiple",
        comments={"bin_ms": 10},
    )
    assert graph.streams["cursorData"] == StreamSpec(
        name="cursorData",
        type_nwb="Position",
        enabled=True,
        enable_reason="graph enable: true",
        keys=CURSOR_KEYS,
        sync_labels=["nsp_idx_1"],
        rate=60.0,
        sync_timing=RADIAL_TIMING,
        source_nickname="radialFSM",
    )
    # Two graph streams may share one node-YAML definition.
    assert graph.streams["targetData"] == StreamSpec(
        name="targetData",
        type_nwb="Position",
        enabled=False,
        enable_reason="graph enable: false",
        keys=CURSOR_KEYS,
        sync_labels=["nsp_idx_1"],
        sync_timing=RADIAL_TIMING,
        source_nickname="radialFSM",
    )
    # `last_id` in a compiled definition is not a key.
    assert graph.streams["state"] == StreamSpec(
        name="state",
        type_nwb="Trial",
        enabled=True,
        enable_reason="node enable_nwb: true",
        keys={
            "state": KeySpec(
                "state",
                1,
                1,
                "str",
                "sample-major",
                {
                    "trial_state": "state",
                    "start_trial_indicators": ["start_time"],
                    "end_trial_indicators": ["end_time"],
                    "other_trial_indicators": ["go_cue_time"],
                    "go_cue_time_description": "time of the go cue",
                },
            )
        },
        sync_labels=["nsp_idx_1"],
        sync_timing=RADIAL_TIMING,
        source_nickname="radialFSM",
    )
    assert graph.streams["trial_success"] == StreamSpec(
        name="trial_success",
        type_nwb="TrialInfo",
        enabled=False,
        enable_reason="not listed in exportNWB streams",
        keys={
            "success": KeySpec(
                "success", 1, 1, "bool", "sample-major", {"description": "whether the trial succeeded"}
            )
        },
        sync_timing=RADIAL_TIMING,
        source_nickname="radialFSM",
    )


def test_2025_missing_compiled_definition_falls_back_to_the_node_yaml(base_dir: Path) -> None:
    model = radial_model()
    del model["streams"]["trial_success"]
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["trial_success"] = {"sync": ["nsp_idx_1"]}
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.problems == []
    assert graph.streams["trial_success"].enabled is True
    assert graph.streams["trial_success"].keys["success"].dtype == "bool"
    without_base = Graph.from_supergraph(model)
    assert without_base.streams["trial_success"].enable_reason == "node YAML not found"


def test_2025_listed_stream_without_any_definition() -> None:
    model = radial_model()
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["decoder"] = {"sync": ["nsp_idx_1"]}
    graph = Graph.from_supergraph(model)
    assert graph.streams["decoder"].enable_reason == "no node writes it"
    assert graph.problems == [
        "stream 'decoder' is listed for export, but no node lists it in redis_outputs and the supergraph "
        "has no compiled definition of it; it cannot be exported"
    ]


def test_2025_compiled_acquisition_streams_are_channel_major() -> None:
    model = radial_model()
    samples = {
        "chan_per_stream": 256,
        "samp_per_stream": 30,
        "sample_type": "int16",
        "nwb": {"unit": "0.25uV"},
    }
    model["nodes"]["nsp_in"] = {
        "name": "cerebusAdapterGem",
        "nickname": "nsp_in",
        "redis_outputs": {"nsp_neural": "ContinuousNeural"},
    }
    model["nodes"]["car"] = {
        "name": "nsp_all",
        "nickname": "car",
        "redis_outputs": {"reref": "rerefContinuousNeural"},
    }
    model["streams"]["nsp_neural"] = {"enable_nwb": False, "type_nwb": "TimeSeries", "samples": samples}
    model["streams"]["reref"] = {"enable_nwb": False, "type_nwb": "TimeSeries", "samples": samples}
    graph = Graph.from_supergraph(model)
    assert graph.streams["nsp_neural"].keys["samples"] == KeySpec(
        "samples", 256, 30, "int16", "channel-major", {"unit": "0.25uV"}
    )
    assert graph.streams["nsp_neural"].source_nickname == "nsp_in"
    assert graph.streams["reref"].keys["samples"].layout == "channel-major"
    assert graph.streams["binned_spikes"].keys["samples"].layout == "sample-major"


def test_compiled_definition_without_source_nickname_uses_the_writer() -> None:
    model = radial_model()
    del model["streams"]["binned_spikes"]["source_nickname"]
    graph = Graph.from_supergraph(model)
    assert graph.streams["binned_spikes"].source_nickname == "bin_multiple"


def test_definition_without_type_or_enable(base_dir: Path) -> None:
    model = radial_model()
    del model["streams"]["binned_spikes"]["type_nwb"]
    del model["streams"]["state"]["enable_nwb"]
    graph = Graph.from_supergraph(model)
    assert (graph.streams["binned_spikes"].enabled, graph.streams["binned_spikes"].enable_reason) == (
        False,
        "stream definition has no type_nwb",
    )
    assert graph.streams["binned_spikes"].type_nwb is None
    assert (graph.streams["state"].enabled, graph.streams["state"].enable_reason) == (
        False,
        "stream definition has no enable_nwb and the graph sets no enable",
    )


def test_trial_checks() -> None:
    model = radial_model()
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["trial_success"] = {"sync": ["nsp_idx_1"]}
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["state"]["enable"] = False
    assert Graph.from_supergraph(model).problems == [
        "TrialInfo streams (trial_success) are enabled but no Trial stream defines trials"
    ]
    model = radial_model()
    model["streams"]["state2"] = {**model["streams"]["state"]}
    model["nodes"]["radialFSM"]["redis_outputs"]["state2"] = "state"
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["state2"] = {"sync": ["nsp_idx_1"]}
    assert Graph.from_supergraph(model).problems == [
        "several enabled Trial streams (state, state2); an NWB file has one trials table"
    ]


def test_enabled_stream_with_no_exported_key_is_noted() -> None:
    model = radial_model()
    model["streams"]["binned_spikes"]["samples"].pop("nwb")
    assert Graph.from_supergraph(model).problems == [
        "stream 'binned_spikes' is enabled but none of its keys has an nwb block; nothing to export"
    ]


def test_two_nodes_writing_one_stream_is_noted() -> None:
    model = radial_model()
    model["nodes"]["bin_multiple"]["redis_outputs"]["state"] = "state"
    graph = Graph.from_supergraph(model)
    assert graph.problems == [
        "stream 'state' is written by nodes 'bin_multiple' and 'radialFSM'; using 'bin_multiple'"
    ]


# -- 2022-07: metadata block, redis_inputs, enable_nwb, sync in the node YAML --------------------------------


def test_2022_07_test_graph(base_dir: Path) -> None:
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)

    assert graph.era == "2022-07"
    assert graph.graph_name == "testGraph"
    assert graph.graph_loaded_ts is None
    assert graph.participant_id == "0"
    assert graph.description == "BRAND test graph, func_generator -> decoder1"
    assert graph.participant_file == "../Data/Participant0/t0.yaml"
    assert graph.devices_file is None
    assert graph.derivative_name == "exportNWB"
    assert graph.export_parameters == {"enable_nwb": {"func_generator": True}}
    assert (graph.sync_key, graph.time_key, graph.sync_timing) == ("sync", "ts", SyncTiming())
    assert graph.streams == {
        "func_generator": StreamSpec(
            name="func_generator",
            type_nwb="TimeSeries",  # Time_Series spelling normalised
            enabled=True,
            enable_reason="graph enable_nwb: true",
            keys={
                "samples": KeySpec(
                    "samples",
                    96,
                    1,
                    "float64",
                    "sample-major",
                    {"unit": "n/a", "description": "arbitrary generated features"},
                )
            },
            sync_labels=["i"],  # from the node YAML in this era
            sync_timing=SyncTiming(),
            source_nickname="func_generator",
        ),
        # decoder.yaml does not exist: unlisted streams are catalogued without a problem.
        "decoder": StreamSpec(
            name="decoder",
            enabled=False,
            enable_reason="not listed in exportNWB redis_inputs",
            sync_timing=SyncTiming(),
            source_nickname="decoder1",
        ),
    }
    assert graph.problems == []


def test_2022_07_default_enable_comes_from_the_node_yaml(base_dir: Path) -> None:
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    model["derivatives"]["exportNWB"]["parameters"]["enable_nwb"] = {}
    spec = Graph.from_supergraph(model, brand_base_dir=base_dir).streams["func_generator"]
    assert (spec.enabled, spec.enable_reason) == (True, "node enable_nwb: true")
    model["derivatives"]["exportNWB"]["parameters"]["enable_nwb"] = {"func_generator": False}
    spec = Graph.from_supergraph(model, brand_base_dir=base_dir).streams["func_generator"]
    assert (spec.enabled, spec.enable_reason) == (False, "graph enable_nwb: false")


def test_2022_07_without_redis_inputs_uses_the_enable_nwb_streams(base_dir: Path) -> None:
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    del model["derivatives"]["exportNWB"]["redis_inputs"]
    model["derivatives"]["exportNWB"]["redis_inputs"] = "func_generator"  # a bare string is accepted
    assert Graph.from_supergraph(model, brand_base_dir=base_dir).streams["func_generator"].enabled is True
    del model["derivatives"]["exportNWB"]["redis_inputs"]
    assert Graph.from_supergraph(model, brand_base_dir=base_dir).streams["func_generator"].enabled is True


def test_2022_07_graph_without_derivatives_is_still_2022_07(base_dir: Path) -> None:
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    model["derivatives"] = {}
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.era == "2022-07"
    assert graph.streams["func_generator"].enable_reason == "no exportNWB derivative in the graph"
    assert graph.streams["func_generator"].sync_labels == ["i"]


# -- 2022-23 core: source_node, name and key mappings ----------------------------------------------------


def test_2022_core_key_mappings(base_dir: Path) -> None:
    graph = Graph.from_supergraph(
        supergraph_2023(graph_yaml("core_2022.yaml"), "fsm_graph"), brand_base_dir=base_dir
    )
    assert graph.era == "2022-core"
    assert graph.description == "testing FSM for individuated finger movements"
    assert graph.devices_file is None
    assert graph.problems == []
    timing = SyncTiming()
    trial_nwb = {
        "trial_state": "state",
        "start_trial_indicators": ["start_time"],
        "end_trial_indicators": ["end_time"],
        "other_trial_indicators": ["go_cue_time"],
        "go_cue_time_description": "time of the go cue",
    }
    position_nwb = {"reference_frame": "center of the screen", "unit": "pixels", "resolution": 1.0}
    assert graph.streams == {
        # graph key `fsm_state` is node YAML key `state` (names differ, which the 2022 core exportNWB could not map)
        "task_state": StreamSpec(
            name="task_state",
            type_nwb="Trial",
            enabled=True,
            enable_reason="graph enable: true",
            keys={"fsm_state": KeySpec("fsm_state", 1, 1, "str", "sample-major", trial_nwb)},
            sync_labels=["xPC_clock"],
            sync_timing=timing,
            source_nickname="fsm",
        ),
        "success": StreamSpec(
            name="success",
            type_nwb="TrialInfo",
            enabled=True,
            enable_reason="node enable_nwb: true",
            keys={
                "success": KeySpec(
                    "success", 1, 1, "bool", "sample-major", {"description": "whether the trial succeeded"}
                )
            },
            sync_labels=["xPC_clock"],
            sync_timing=timing,
            source_nickname="fsm",
        ),
        # Only mapped keys are exported; the others are declared but carry no nwb block.
        "cursor": StreamSpec(
            name="cursor",
            type_nwb="Position",
            enabled=True,
            enable_reason="node enable_nwb: true",
            keys={
                "x": KeySpec(
                    "x", 1, 1, "float32", "sample-major", {**position_nwb, "description": "cursor x position"}
                ),
                "y": KeySpec(
                    "y", 1, 1, "float32", "sample-major", {**position_nwb, "description": "cursor y position"}
                ),
                "radius": KeySpec("radius", 1, 1, "float32", "sample-major", None),
                "state": KeySpec("state", 1, 1, "int32", "sample-major", None),
            },
            sync_labels=["xPC_clock"],
            sync_timing=timing,
            source_nickname="fsm",
        ),
    }


def test_2022_core_stream_without_key_mapping_exports_every_nwb_key(base_dir: Path) -> None:
    model = supergraph_2023(graph_yaml("core_2022.yaml"), "fsm_graph")
    streams = model["derivatives"]["exportNWB"]["parameters"]["streams"]
    del streams["cursor"]["x"], streams["cursor"]["y"]
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.streams["cursor"].keys == {
        "X": CURSOR_KEYS["X"],
        "Y": CURSOR_KEYS["Y"],
        "radius": CURSOR_KEYS["radius"],
        "state": KeySpec(
            "state", 1, 1, "int32", "sample-major", {"reference_frame": "n/a", "description": "task state"}
        ),
    }
    assert graph.problems == [
        "stream 'cursor': the exportNWB config maps no keys (<graph key>: <node YAML key>); BRAND's "
        "exportNWB exported none, this converter exports every key with an nwb block"
    ]


def test_2022_core_without_source_node_finds_the_writer(base_dir: Path) -> None:
    model = supergraph_2023(graph_yaml("core_2022.yaml"), "fsm_graph")
    expected = Graph.from_supergraph(model, brand_base_dir=base_dir).streams
    for entry in model["derivatives"]["exportNWB"]["parameters"]["streams"].values():
        del entry["source_node"]  # the 2022-09 documentation's form: writer found through redis_outputs
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.era == "2022-core"
    assert graph.streams == expected


def test_2022_core_source_node_errors(base_dir: Path) -> None:
    model = supergraph_2023(graph_yaml("core_2022.yaml"), "fsm_graph")
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["success"]["source_node"] = "radialFSM2"
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.streams["success"].enable_reason == "source node not in the graph"
    assert graph.problems == [
        "stream 'success': exportNWB source_node 'radialFSM2' is not the name of any node in the graph; "
        "it cannot be exported"
    ]


def test_2022_core_several_nodes_with_the_source_name(base_dir: Path) -> None:
    model = supergraph_2023(graph_yaml("core_2022.yaml"), "fsm_graph")
    model["nodes"]["fsm"]["redis_outputs"] = []
    model["nodes"]["fsm2"] = {**model["nodes"]["fsm"], "nickname": "fsm2"}
    graph = Graph.from_supergraph(model, brand_base_dir=base_dir)
    assert graph.streams["success"].source_nickname == "fsm"
    assert graph.problems[0] == (
        "stream 'task_state': several nodes are named 'radialFSM' (fsm, fsm2); using 'fsm' for its node YAML "
        "and parameters"
    )


def test_2022_core_mapping_to_an_undeclared_key_is_an_error(base_dir: Path) -> None:
    model = supergraph_2023(graph_yaml("core_2022.yaml"), "fsm_graph")
    model["derivatives"]["exportNWB"]["parameters"]["streams"]["cursor"]["x"] = "Xpos"
    with pytest.raises(
        GraphError, match=re.escape("exportNWB maps graph key 'x' to node YAML key 'Xpos', which the")
    ):
        Graph.from_supergraph(model, brand_base_dir=base_dir)


# -- layouts ----------------------------------------------------------------------------------------------


def single_stream_graph(
    tmp_path: Path, definition: str, parameters: dict | None = None, **settings: object
) -> Graph:
    """A 2024 graph with one node `acq` (name myNode) writing stream `out`, defined by ``definition``."""
    node_dir = tmp_path / "brand" / "nodes" / "myNode"
    node_dir.mkdir(parents=True, exist_ok=True)
    indented = "\n".join("      " + line for line in definition.strip().splitlines())
    (node_dir / "myNode.yaml").write_text(f"RedisStreams:\n  Outputs:\n    out:\n{indented}\n")
    model = {
        "graph_name": "single",
        "nodes": {
            "acq": {
                "name": "myNode",
                "nickname": "acq",
                "module": ".",
                "redis_outputs": {"out": "out"},
                "parameters": {"n_channels": 4, "zero": 0, "dtype": "uint16", "label": "four"}
                if parameters is None
                else parameters,
            }
        },
        "derivatives": {
            "exportNWB": {
                "name": "exportNWB.py",
                "nickname": "exportNWB",
                "parameters": {
                    "sync_key": "sync",
                    "time_key": "ts",
                    "streams": {"out": {"enable": True, "sync": ["i"], **settings}},
                },
            }
        },
    }
    return Graph.from_supergraph(model, brand_base_dir=tmp_path / "brand")


SAMPLES = """
enable_nwb: true
type_nwb: TimeSeries
samples:
  chan_per_stream: $n_channels
  samp_per_stream: 30
  sample_type: int16
  nwb: {unit: uV}
"""


def test_explicit_layout_override(tmp_path: Path) -> None:
    graph = single_stream_graph(
        tmp_path, SAMPLES.replace("sample_type: int16", "sample_type: int16\n  layout: channel-major")
    )
    assert graph.streams["out"].keys["samples"] == KeySpec(
        "samples", 4, 30, "int16", "channel-major", {"unit": "uV"}
    )
    assert graph.problems == []


@pytest.mark.parametrize("node_name", ["cerebusAdapter", "cerebusAdapterGem", "re_reference"])
def test_acquisition_nodes_write_channel_major_samples(tmp_path: Path, node_name: str) -> None:
    node_dir = tmp_path / "brand" / "nodes" / node_name
    node_dir.mkdir(parents=True)
    body = (
        SAMPLES
        + "timestamps:\n  chan_per_stream: 1\n  samp_per_stream: 30\n"
        + "  sample_type: uint64\n  nwb: {unit: s}\n"
    )
    indented = "\n".join("      " + line for line in body.strip().splitlines())
    (node_dir / f"{node_name}.yaml").write_text(f"RedisStreams:\n  Outputs:\n    out:\n{indented}\n")
    model = {
        "nodes": {
            "nsp": {"name": node_name, "nickname": "nsp", "module": ".", "redis_outputs": ["nsp_neural"]}
        },
        "derivatives": {},
    }
    model["nodes"]["nsp"]["redis_outputs"] = {"nsp_neural": "out"}
    model["nodes"]["nsp"]["parameters"] = {"n_channels": 2}
    keys = Graph.from_supergraph(model, brand_base_dir=tmp_path / "brand").streams["nsp_neural"].keys
    assert keys["samples"].layout == "channel-major"
    assert keys["timestamps"].layout == "sample-major"


def test_bare_nwb_marks_a_key_as_exported(tmp_path: Path) -> None:
    graph = single_stream_graph(tmp_path, SAMPLES.replace("nwb: {unit: uV}", "nwb:"))
    assert graph.streams["out"].keys["samples"].nwb == {}
    assert graph.streams["out"].keys["samples"].exported is True


def test_non_key_entries_are_ignored(tmp_path: Path) -> None:
    body = SAMPLES + "description: node-level text\nsync: [i]\nlast_id: 0-0\ncomments: {a: 1}\n"
    graph = single_stream_graph(tmp_path, body)
    assert list(graph.streams["out"].keys) == ["samples"]
    assert graph.problems == []


def test_incomplete_unexported_key_is_left_out_with_a_note(tmp_path: Path) -> None:
    body = SAMPLES + "ts:\n  chan_per_stream: 1\n  samp_per_stream: 1\n"
    graph = single_stream_graph(tmp_path, body)
    assert list(graph.streams["out"].keys) == ["samples"]
    assert graph.problems == [
        f"node 'acq' stream 'out' [node YAML {tmp_path}/brand/nodes/myNode/myNode.yaml], key 'ts': the "
        "definition has no sample_type; key left out"
    ]


def test_graph_settings_rate_comments_and_unknown_entries(tmp_path: Path) -> None:
    graph = single_stream_graph(tmp_path, SAMPLES, rate=1000, comments={"note": "raw"}, gain=0.25)
    spec = graph.streams["out"]
    assert (spec.rate, spec.comments) == (1000.0, {"note": "raw"})
    assert graph.problems == ["stream 'out': exportNWB setting 'gain: 0.25' is not understood; ignored"]


# -- errors ------------------------------------------------------------------------------------------


def definition_error(tmp_path: Path, definition: str, **settings: object) -> str:
    with pytest.raises(GraphError) as caught:
        single_stream_graph(tmp_path, definition, **settings)
    return str(caught.value)


def where(tmp_path: Path, key: str) -> str:
    return f"node 'acq' stream 'out' [node YAML {tmp_path}/brand/nodes/myNode/myNode.yaml], key '{key}'"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "$n_channels",
            "$n_chanels",
            "chan_per_stream: cannot evaluate '$n_chanels': unknown parameter '$n_chanels'",
        ),
        (
            "$n_channels",
            "$label * 2",
            "chan_per_stream: cannot evaluate '$label * 2': parameter '$label' is 'four', not a number",
        ),
        (
            "$n_channels",
            "$n_channels / $zero",
            "chan_per_stream: cannot evaluate '$n_channels / $zero': division by zero",
        ),
        ("$n_channels", "($n_channels", "chan_per_stream: cannot evaluate '($n_channels': missing ')'"),
        (
            "samp_per_stream: 30",
            "samp_per_stream: $n_channels - 4",
            "samp_per_stream: '$n_channels - 4' evaluates to 0",
        ),
        (
            "sample_type: int16",
            "sample_type: $dtype_out",
            "sample_type: '$dtype_out': unknown parameter '$dtype_out'",
        ),
        (
            "sample_type: int16",
            "sample_type: $n_channels",
            "sample_type: '$n_channels': parameter '$n_channels' is 4, not a dtype name",
        ),
        ("sample_type: int16", "sample_type: int17", "sample_type: 'int17' is not a numpy dtype name"),
        (
            "sample_type: int16",
            "sample_type: ~",
            "the definition has no sample_type; add it to the node YAML",
        ),
        ("nwb: {unit: uV}", "nwb: [uV]", "'nwb' must be a mapping of NWB settings, got ['uV']"),
        (
            "sample_type: int16",
            "sample_type: int16\n  layout: column-major",
            "layout must be 'sample-major' or 'channel-major'",
        ),
    ],
)
def test_key_definition_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SAMPLES
    text = definition_error(tmp_path, SAMPLES.replace(old, new))
    assert text.startswith(where(tmp_path, "samples") + ", " + message) or text.startswith(
        where(tmp_path, "samples") + ": " + message
    )


def test_sample_type_parameter_is_substituted(tmp_path: Path) -> None:
    graph = single_stream_graph(tmp_path, SAMPLES.replace("sample_type: int16", "sample_type: $dtype"))
    assert graph.streams["out"].keys["samples"].dtype == "uint16"


def test_unknown_type_nwb_is_an_error(tmp_path: Path) -> None:
    text = definition_error(tmp_path, SAMPLES.replace("type_nwb: TimeSeries", "type_nwb: ElectricalSeries"))
    assert text.startswith(
        f"node 'acq' stream 'out' [node YAML {tmp_path}/brand/nodes/myNode/myNode.yaml]: unknown type_nwb "
        "'ElectricalSeries'; known: TimeSeries, Position, SpikeTimes (Spike_Times), Trial, "
        "TrialInfo (Trial_Info)"
    )
    assert text.endswith("; fix type_nwb")


def test_non_boolean_enable_nwb_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        GraphError, match=re.escape("enable_nwb must be true or false, got 'yes'; fix the node YAML")
    ):
        single_stream_graph(tmp_path, SAMPLES.replace("enable_nwb: true", "enable_nwb: 'yes'"), enable=None)


def test_node_parameters_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(GraphError, match=re.escape("node 'acq' parameters must be a mapping, got [4]")):
        single_stream_graph(tmp_path, SAMPLES, parameters=[4])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"enable": "yes"}, "exportNWB stream 'out' 'enable' must be true or false, got 'yes'"),
        (
            {"sync": {"i": 1}},
            "exportNWB stream 'out': 'sync' must be a label or a list of labels (blocking label "
            "first), got {'i': 1}",
        ),
        ({"sync": [["i"]]}, "exportNWB stream 'out': 'sync' must be a label or a list of labels"),
        ({"rate": 0}, "exportNWB stream 'out' rate must be a positive number of Hz, got 0; fix the graph"),
        ({"rate": "fast"}, "exportNWB stream 'out' rate must be a positive number of Hz, got 'fast'"),
        ({"comments": "raw"}, "exportNWB stream 'out': 'comments' must be a mapping, got 'raw'"),
        ({"name": ["out"]}, "exportNWB stream 'out' 'name' must be text, got ['out']"),
    ],
)
def test_stream_setting_errors(tmp_path: Path, settings: dict, message: str) -> None:
    assert definition_error(tmp_path, SAMPLES, **settings).startswith(message)


def test_integer_sync_labels_become_text(tmp_path: Path) -> None:
    assert single_stream_graph(tmp_path, SAMPLES, sync=[1, "i"]).streams["out"].sync_labels == ["1", "i"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, SyncTiming(1000.0, {})),
        (30000, SyncTiming(30000.0, {})),
        (1000.5, SyncTiming(1000.5, {})),
        ({"i": 30000}, SyncTiming(1000.0, {"i": 30000.0})),  # no default_sync_rate: 1000 Hz (§10 item 4)
        ({"i": 1000, "default_sync_rate": 30000}, SyncTiming(30000.0, {"i": 1000.0})),
        ({}, SyncTiming(1000.0, {})),
    ],
)
def test_parse_sync_timing(value: object, expected: SyncTiming) -> None:
    assert parse_sync_timing(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1000", "exportNWB sync_timing_hz must be a positive number of Hz, got '1000'; fix the graph"),
        (-5, "exportNWB sync_timing_hz must be a positive number of Hz, got -5"),
        (True, "exportNWB sync_timing_hz must be a positive number of Hz, got True"),
        ({"i": "fast"}, "exportNWB sync_timing_hz['i'] must be a positive number of Hz, got 'fast'"),
        ({"default_sync_rate": 0}, "exportNWB sync_timing_hz['default_sync_rate'] must be a positive number"),
    ],
)
def test_parse_sync_timing_errors(value: object, message: str) -> None:
    with pytest.raises(GraphError, match=re.escape(message)):
        parse_sync_timing(value)


def model_error(model: object, **kwargs: object) -> str:
    with pytest.raises(GraphError) as caught:
        Graph.from_supergraph(model, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


def export_parameters(model: dict) -> dict:
    return model["derivatives"]["exportNWB"]["parameters"]


def test_supergraph_shape_errors() -> None:
    assert model_error([1]) == "a supergraph must be a JSON object, got list"
    model = radial_model()
    model["nodes"] = "radialFSM"
    assert model_error(model) == "supergraph 'nodes' must map nicknames to node settings, got str"
    model = radial_model()
    model["nodes"]["radialFSM"] = ["x"]
    assert model_error(model) == "supergraph node 'radialFSM' must be a mapping, got ['x']"
    assert model_error({"nodes": [1]}) == "supergraph nodes[0] must be a mapping, got 1"
    assert (
        model_error({"nodes": [{"module": "."}]})
        == "supergraph nodes[0] has neither a 'nickname' nor a 'name'"
    )
    model = radial_model()
    model["derivatives"] = "exportNWB"
    assert model_error(model) == "supergraph 'derivatives' must be a mapping or a list, got str"
    assert (
        model_error({"derivatives": ["exportNWB"]})
        == "supergraph derivatives[0] must be a mapping, got 'exportNWB'"
    )
    for item in ({"module": "."}, {"exportNWB": "on"}, {}):
        assert model_error({"derivatives": [item]}) == (
            "supergraph derivatives[0] must be '- <name>: {settings}' or a record with a 'nickname' or "
            f"'name', got {item!r}"
        )
    assert (
        model_error({"derivatives": {"exportNWB": 3}})
        == "supergraph derivative 'exportNWB' must be a mapping, got 3"
    )


def test_export_configuration_errors() -> None:
    model = radial_model()
    export_parameters(model)["sync_key"] = 5
    assert model_error(model) == "exportNWB parameters.sync_key must be a field name, got 5"
    model = radial_model()
    export_parameters(model)["streams"] = ["cursorData"]
    assert (
        model_error(model)
        == "exportNWB parameters.streams must map graph streams to settings, got ['cursorData']"
    )
    model = radial_model()
    export_parameters(model)["streams"]["cursorData"] = "enable"
    assert model_error(model) == "exportNWB stream 'cursorData' must be a mapping of settings, got 'enable'"
    model = radial_model()
    model["derivatives"]["exportNWB"]["parameters"] = [1]
    assert model_error(model) == "derivative 'exportNWB' parameters must be a mapping, got [1]"
    model = radial_model()
    export_parameters(model)["participant_file"] = ["a.yaml"]
    assert model_error(model) == "participant_file must be text, got ['a.yaml']"
    model = radial_model()
    model["graph_name"] = {"name": "x"}
    assert model_error(model) == "supergraph graph_name must be text, got {'name': 'x'}"


def test_derivative_lookup_errors() -> None:
    model = radial_model()
    assert (
        model_error(model, derivative="nwb")
        == "the graph has no derivative named 'nwb' (derivatives: exportNWB)"
    )
    model["derivatives"] = {
        "nwb_a": {"name": "exportNWB.py", "parameters": {}},
        "nwb_b": {"name": "exportNWB.py", "parameters": {}},
    }
    assert (
        model_error(model)
        == "several derivatives look like exportNWB (nwb_a, nwb_b); pass derivative=<one of them>"
    )
    assert Graph.from_supergraph(model, derivative="nwb_b").derivative_name == "nwb_b"


def test_2022_07_configuration_errors(base_dir: Path) -> None:
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    model["derivatives"]["exportNWB"]["redis_inputs"] = {"func_generator": 1}
    assert model_error(model, brand_base_dir=base_dir) == (
        "exportNWB redis_inputs must be a stream name or a list of them, got {'func_generator': 1}"
    )
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    model["derivatives"]["exportNWB"]["parameters"]["enable_nwb"] = {"func_generator": "on"}
    assert model_error(model, brand_base_dir=base_dir) == (
        "exportNWB parameters.enable_nwb['func_generator'] must be true or false, got 'on'"
    )
    model = supergraph_2022_07(graph_yaml("testGraph_2022_07.yaml"))
    model["derivatives"]["exportNWB"]["parameters"]["enable_nwb"] = ["func_generator"]
    model["derivatives"]["exportNWB"]["redis_inputs"] = ["func_generator"]
    assert model_error(model, brand_base_dir=base_dir) == (
        "exportNWB parameters.enable_nwb must map streams to true/false, got ['func_generator']"
    )


def test_redis_outputs_errors() -> None:
    model = radial_model()
    model["nodes"]["radialFSM"]["redis_outputs"] = 5
    assert (
        model_error(model)
        == "node 'radialFSM' redis_outputs must map graph streams to node YAML streams, got 5"
    )
    model = radial_model()
    model["nodes"]["radialFSM"]["redis_outputs"] = {"state": ["state"]}
    assert model_error(model) == "node 'radialFSM' redis_outputs entry 'state': ['state'] is not text"


def test_compiled_definition_must_be_a_mapping() -> None:
    model = radial_model()
    model["streams"]["state"] = "Trial"
    assert (
        model_error(model) == "supergraph streams['state'] must be a stream definition mapping, got 'Trial'"
    )


def test_from_json_errors() -> None:
    with pytest.raises(
        GraphError, match=r"^the supergraph is not valid JSON \(Expecting value: line 1 column 1"
    ):
        Graph.from_json("not json")
    with pytest.raises(GraphError, match=r"is this a supergraph_stream 'data' field\?$"):
        Graph.from_json(b'{"nodes": ')
    with pytest.raises(GraphError, match=r"^a supergraph must be a JSON object, got str$"):
        Graph.from_json('"text"')


def test_get_stream_error() -> None:
    message = (
        "stream 'sbp' is not in the graph; streams the graph knows: binned_spikes, cursorData, state, targetData, "
        "trial_success."
    )
    with pytest.raises(GraphError, match=f"^{re.escape(message)}$"):
        Graph.from_supergraph(radial_model()).get_stream("sbp")


def test_graph_loaded_ts_that_is_not_a_number_is_noted() -> None:
    model = radial_model()
    model["graph_loaded_ts"] = "soon"
    graph = Graph.from_supergraph(model)
    assert graph.graph_loaded_ts is None
    assert graph.problems == ["supergraph graph_loaded_ts 'soon' is not an integer number of ns; ignored"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RedisStreams: [", "is not valid YAML"),
        ("- a\n- b\n", "must be a mapping at the top level, got list"),
        ("RedisStreams: [a]\n", "'RedisStreams' must be a mapping, got list"),
        (
            "RedisStreams:\n  Outputs: [out]\n",
            "'RedisStreams.Outputs' must map stream names to definitions, got list",
        ),
        (
            "RedisStreams:\n  Outputs:\n    out: [samples]\n",
            "stream 'out' must be a mapping, got ['samples']",
        ),
    ],
)
def test_node_yaml_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "myNode.yaml"
    path.write_text(text)
    model = {
        "nodes": {"acq": {"name": "myNode", "module": ".", "redis_outputs": {"out": "out"}}},
        "derivatives": {
            "exportNWB": {"parameters": {"sync_key": "sync", "time_key": "ts", "streams": {"out": {}}}}
        },
    }
    with pytest.raises(GraphError, match=re.escape(message)) as caught:
        Graph.from_supergraph(model, node_yaml_paths={"myNode": path})
    assert f"{path}" in str(caught.value)


def test_node_yaml_without_outputs_defines_no_streams(tmp_path: Path) -> None:
    path = tmp_path / "myNode.yaml"
    for text in ("", "parameters: []\n", "RedisStreams:\n  Inputs:\n"):
        path.write_text(text)
        model = {
            "nodes": {"acq": {"name": "myNode", "redis_outputs": {"out": "out"}}},
            "derivatives": {
                "exportNWB": {"parameters": {"sync_key": "sync", "time_key": "ts", "streams": {"out": {}}}}
            },
        }
        graph = Graph.from_supergraph(model, node_yaml_paths={"acq": path})
        assert graph.streams["out"].enable_reason == "stream definition not found"


def test_normalize_derivatives_accepts_both_list_forms() -> None:
    model = {
        "derivatives": [
            {"exportNWB": {"parameters": {"a": 1}}},
            {"nickname": "saveRDB", "name": "saveRDB.py"},
            {"name": "other.py"},
            {"empty": None},
        ]
    }
    assert normalize_derivatives(model) == {
        "exportNWB": {"parameters": {"a": 1}},
        "saveRDB": {"nickname": "saveRDB", "name": "saveRDB.py"},
        "other.py": {"name": "other.py"},
        "empty": {},
    }
