"""The synthetic graph and the supergraph model of every era."""

from __future__ import annotations

import pytest

from neuroconv_brand.testing import ERAS, SessionConfig
from neuroconv_brand.testing.definitions import build_graph, evaluate
from neuroconv_brand.testing.supergraph import (
    FilePaths,
    build_supergraph,
    compiled_streams,
    updated_supergraph,
)

PATHS = FilePaths("../config/t0/t0.yaml", "../config/devices.yaml")


def _model(**options) -> dict:
    config = SessionConfig(**options)
    return build_supergraph(config, build_graph(config), PATHS, 123)


def test_evaluate_substitutes_parameters():
    parameters = {"n_channels": 64, "n_features": 2, "chan_per_stream": [256], "output_dtype": "float32"}
    assert evaluate("$n_channels * $n_features", parameters) == 128
    assert evaluate("$chan_per_stream", parameters) == 256
    assert evaluate("$output_dtype", parameters) == "float32"
    assert evaluate(7, parameters) == 7 and evaluate("int16", parameters) == "int16"


def test_graph_streams_and_groups():
    graph = build_graph(SessionConfig(split_arrays=True, two_nsps=True, n_arrays=3, channels_per_array=8))
    assert list(graph.streams) == [
        "nsp_neural",
        "thresh_cross_1",
        "sbp_1",
        "thresh_cross_2",
        "sbp_2",
        "thresh_cross_3",
        "sbp_3",
        "binned_spikes",
        "cursorData",
        "targetData",
        "state",
        "trial_success",
        "trial_info",
    ]
    assert graph.streams["thresh_cross_1"].sync == ("nsp_idx_1",)
    assert graph.streams["thresh_cross_3"].sync == ("nsp_idx_2",)
    assert graph.streams["binned_spikes"].sync == ("nsp_idx_1", "nsp_idx_2")
    assert graph.node("nsp_all_2").parameters["neural_ch_range"] == [8, 16]
    # several graph streams map to one node-YAML stream
    assert {graph.streams[f"thresh_cross_{k}"].yaml_stream for k in (1, 2, 3)} == {"thresh_cross"}
    assert graph.resolved("binned_spikes")["samples"]["chan_per_stream"] == 24


def test_2025_model_has_compiled_streams():
    model = _model(era="2025", bin_features="crossings+sbp", raw=True)
    assert set(model) >= {
        "redis_host",
        "redis_port",
        "graph_name",
        "graph_loaded_ts",
        "nodes",
        "derivatives",
        "rdb_dirpath",
        "rdb_filename",
        "participant_id",
        "streams",
    }
    streams = model["streams"]
    assert streams["binned_spikes"]["samples"] == {
        "chan_per_stream": 256,
        "samp_per_stream": 1,
        "sample_type": "float32",
        "nwb": {"unit": "spikes", "description": "spike counts and mean band power"},
    }
    assert streams["binned_spikes"]["source_nickname"] == "bin_multiple"
    assert streams["nsp_neural"]["samples"]["chan_per_stream"] == 128
    assert streams["sbp"]["enable_nwb"] is False and streams["sbp"]["type_nwb"] == "TimeSeries"
    exp = model["derivatives"]["exportNWB"]
    assert exp["nickname"] == "exportNWB" and exp["autorun_step"] == 0
    parameters = exp["parameters"]
    assert parameters["streams"]["sbp"] == {"enable": True, "sync": ["nsp_idx_1"], "rate": 1000}
    assert parameters["streams"]["binned_spikes"] == {"sync": ["nsp_idx_1"], "rate": 50}
    assert parameters["streams"]["nsp_neural"] == {"enable": False, "sync": ["nsp_idx_1"]}
    assert parameters["sync_key"] == "sync" and parameters["time_key"] == "ts"
    assert {"ch_mask_stream", "thresh_stream", "norm_stream"} <= set(parameters)
    assert "find_reset_stream" not in parameters
    assert model["nodes"]["nsp_in"]["redis_outputs"] == {"nsp_neural": "ContinuousNeural"}


def test_2024_has_no_streams_and_dev_derivatives():
    model = _model(era="2024", find_reset_stream=True)
    assert "streams" not in model and "rdb_filename" in model
    parameters = model["derivatives"]["exportNWB"]["parameters"]
    assert parameters["find_reset_stream"] == "binned_spikes" and parameters["reset_keys"] == ["nsp_idx_1"]
    assert model["derivatives"]["saveRDB"]["parameters"]["flush_streams_before_save"] == ["nsp_neural"]
    assert model["nodes"]["nsp_all"]["machine"] == "brand"


def test_2023_release_shape():
    model = _model(era="2023", two_nsps=True)
    assert "brand_hash" in model and "rdb_filename" not in model
    assert set(model["derivatives"]["exportNWB"]) == {"parameters", "git_hash"}
    assert model["derivatives"]["exportNWB"]["parameters"]["sync_timing_hz"] == {
        "nsp_idx_1": 1000,
        "nsp_idx_2": 30000,
        "default_sync_rate": 1000,
    }
    assert "git_hash" in model["nodes"]["radialFSM"] and isinstance(
        model["nodes"]["radialFSM"]["redis_outputs"], dict
    )


def test_2022_core_std_form():
    model = _model(era="2022-core", hazards=True)
    streams = model["derivatives"]["exportNWB"]["parameters"]["streams"]
    assert streams["sbp"] == {
        "source_node": "nsp_all",
        "enable": True,
        "sync": ["nsp_idx_1"],
        "name": "band_power",
        "samples": "samples",
    }
    assert streams["state"]["task_state"] == "task_state"
    assert streams["trial_info"]["cond_id"] == "cond_id"
    assert isinstance(model["nodes"]["nsp_all"]["redis_outputs"], list)


def test_2022_07_metadata_form():
    model = _model(era="2022-07")
    assert model["metadata"] == {
        "participant_id": "t0",
        "graph_name": "sim_radial8",
        "session_description": SessionConfig().description,
        "participant_file": "../config/t0/t0.yaml",
    }
    exp = model["derivatives"]["exportNWB"]
    assert exp["redis_outputs"] == [] and "thresh_cross" in exp["redis_inputs"]
    assert exp["parameters"]["enable_nwb"]["sbp"] is True
    assert exp["parameters"]["enable_nwb"]["nsp_neural"] is False
    assert model["nodes"]["bin_multiple"]["redis_inputs"] == ["thresh_cross"]


@pytest.mark.parametrize("era", ERAS)
def test_update_changes_description_and_threshold(era):
    config = SessionConfig(era=era)
    model = build_supergraph(config, build_graph(config), PATHS, 1)
    updated = updated_supergraph(config, model)
    assert updated["nodes"]["nsp_all"]["parameters"]["thresh_mult"] == -4.0
    assert model["nodes"]["nsp_all"]["parameters"]["thresh_mult"] == -4.5
    assert updated != model


def test_hazard_nwb_blocks_in_compiled_streams():
    streams = compiled_streams(build_graph(SessionConfig(hazards=True)))
    assert streams["cursorData"]["X"]["nwb"]["foo"] == 1
    assert streams["state"]["task_state"]["nwb"]["trial_state"] == "task_state"
