"""The supergraph model (``supergraph_stream`` ``data``) in each era's shape (see :mod:`neuroconv_brand.graph.eras`).

=========== ==================================================================================================
era         shape
=========== ==================================================================================================
2022-07     ``metadata`` {participant_id, graph_name, session_description, participant_file}; node
            ``redis_inputs``/``redis_outputs`` lists; ``derivatives.exportNWB`` = {version, redis_inputs,
            redis_outputs, parameters.enable_nwb{stream: bool}}
2022-core   node ``redis_outputs`` lists; ``derivatives.exportNWB.parameters`` in the STD-2022 form: streams
            with ``source_node`` (node name), ``name`` (node-YAML stream), ``enable``, ``sync`` and a
            ``<key>: <key>`` mapping of the exported keys; scalar ``sync_timing_hz``
2023        ``brand_hash``; nodes with ``git_hash``/``binary`` and dict ``redis_outputs``;
            ``derivatives`` = {"exportNWB": {parameters (EXP form), git_hash}} (from a list of single-key dicts)
2024        ``derivatives`` keyed by nickname: {name, nickname, module, machine, filepath, autorun_step,
            parameters}; ``rdb_dirpath``/``rdb_filename``; nodes with ``machine``/``binary``
2025        2024 plus compiled ``streams`` {graph stream: node-YAML definition with ``$params`` substituted +
            ``source_nickname``} and ``participant_id``
=========== ==================================================================================================
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timezone

from .config import SessionConfig
from .definitions import MODULE_EXPORT, MODULE_NSP, GraphDefinition, NodeDef

UPDATED_THRESH_MULT = -4.0
UPDATE_NOTE = " (parameters updated)"


@dataclass(frozen=True)
class FilePaths:
    """How the graph refers to the participant and devices files (relative to the base dir, or absolute)."""

    participant_file: str
    devices_file: str


def build_supergraph(
    config: SessionConfig, graph: GraphDefinition, paths: FilePaths, graph_loaded_ts: int
) -> dict:
    """The model the supervisor publishes at ``loadGraph`` for ``config.era``."""
    era = config.era
    model: dict = {
        "redis_host": "127.0.0.1",
        "redis_port": 6379,
        "graph_name": config.graph_name,
        "graph_loaded_ts": int(graph_loaded_ts),
    }
    if era == "2022-07":
        model["metadata"] = {
            "participant_id": config.participant_id,
            "graph_name": config.graph_name,
            "session_description": config.description,
            "participant_file": paths.participant_file,
        }
    if era == "2023":
        model["brand_hash"] = "9d48493c1b2f0e7a55c3d2b1a0f9e8d7c6b5a4f3"
    model["nodes"] = {node.nickname: _node(config, node, graph) for node in graph.nodes}
    model["derivatives"] = _derivatives(config, graph, paths)
    if era in ("2024", "2025"):
        stamp = datetime.fromtimestamp(config.start_time_ms / 1000, tz=timezone.utc).strftime("%y%m%dT%H%M")
        date = datetime.fromtimestamp(config.start_time_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")
        model["rdb_dirpath"] = f"../Data/{config.participant_id}/{date}/RawData/RDB"
        model["rdb_filename"] = f"{config.participant_id}_{stamp}_{config.graph_name}.rdb"
    if era == "2025":
        model["participant_id"] = config.participant_id
        model["streams"] = compiled_streams(graph)
    return model


def updated_supergraph(config: SessionConfig, model: dict) -> dict:
    """The model re-published by ``updateParameters``: new description and ``thresh_mult`` of nsp_all."""
    updated = copy.deepcopy(model)
    if config.era == "2022-07":
        updated["metadata"]["session_description"] += UPDATE_NOTE
    else:
        updated["derivatives"]["exportNWB"]["parameters"]["description"] += UPDATE_NOTE
    for node in updated["nodes"].values():
        if node["name"] == "nsp_all":
            node["parameters"]["thresh_mult"] = UPDATED_THRESH_MULT
    return updated


def model_description(config: SessionConfig, model: dict) -> str:
    """The session description a model carries."""
    if config.era == "2022-07":
        return model["metadata"]["session_description"]
    return model["derivatives"]["exportNWB"]["parameters"]["description"]


def compiled_streams(graph: GraphDefinition) -> dict:
    """2025 ``streams``: every node output's definition, ``$params`` substituted, plus ``source_nickname``."""
    streams = {}
    for node in graph.nodes:
        for graph_stream, yaml_stream in node.outputs.items():
            definition = node.streams[yaml_stream].as_yaml(node.parameters)
            definition["source_nickname"] = node.nickname
            streams[graph_stream] = definition
    return streams


def _node(config: SessionConfig, node: NodeDef, graph: GraphDefinition) -> dict:
    era = config.era
    values: dict = {"name": node.name, "nickname": node.nickname, "module": node.module}
    if era in ("2024", "2025"):
        values["machine"] = "brand"
    values["run_priority"] = node.run_priority
    if node.cpu_affinity is not None:
        values["cpu_affinity"] = node.cpu_affinity
    if era in ("2022-07", "2022-core"):
        if era == "2022-07":
            values["redis_inputs"] = _inputs(node, graph)
        values["redis_outputs"] = list(node.outputs)
    else:
        values["redis_outputs"] = dict(node.outputs)
    values["parameters"] = copy.deepcopy(node.parameters)
    if era != "2022-07":
        values["binary"] = node.binary
    if era == "2023":
        values["git_hash"] = "4c891da832767615eb47e61e692b23a672392180"
    return values


def _inputs(node: NodeDef, graph: GraphDefinition) -> list[str]:
    parameters = node.parameters
    if "input_streams" in parameters:
        return list(parameters["input_streams"])
    if "input_stream" in parameters:
        return [parameters["input_stream"]]
    return []


def _derivatives(config: SessionConfig, graph: GraphDefinition, paths: FilePaths) -> dict:
    era = config.era
    if era == "2022-07":
        enables = {}
        for name, spec in graph.streams.items():
            default = graph.stream_def(name).enable_nwb
            enables[name] = bool(default if spec.enable is None else spec.enable)
        return {
            "exportNWB": {
                "version": 0.0,
                "redis_inputs": list(graph.streams),
                "redis_outputs": [],
                "parameters": {"enable_nwb": enables},
            }
        }
    if era == "2022-core":
        return {"exportNWB": {"parameters": _std_parameters(config, graph, paths)}}
    parameters = _exp_parameters(config, graph, paths)
    if era == "2023":
        return {
            "exportNWB": {"parameters": parameters, "git_hash": "6f17e0393e7b0554f9337934eb287fb69b361634"}
        }
    flushed = [] if config.raw else [config.raw_stream]
    return {
        "exportNWB": {
            "name": "exportNWB.py",
            "nickname": "exportNWB",
            "module": MODULE_EXPORT,
            "machine": "brand",
            "filepath": f"{MODULE_EXPORT}/derivatives/exportNWB/exportNWB.py",
            "autorun_step": 0,
            "parameters": parameters,
        },
        "saveRDB": {
            "name": "saveRDB.py",
            "nickname": "saveRDB",
            "module": MODULE_EXPORT,
            "machine": "brand",
            "filepath": f"{MODULE_EXPORT}/derivatives/saveRDB/saveRDB.py",
            "autorun_step": 10,
            "parameters": {
                "flush_streams_before_save": flushed,
                "flush_rdb_after_save": False,
                "flush_rdb_except_streams": ["thresholds", "normalization_parameters", "z_mask_stream"],
            },
        },
    }


def _common_parameters(config: SessionConfig, paths: FilePaths) -> dict:
    return {
        "participant_file": paths.participant_file,
        "devices_file": paths.devices_file,
        "description": config.description,
        "sync_key": "sync",
        "time_key": "ts",
        "sync_timing_hz": config.sync_timing_hz,
    }


def _std_parameters(config: SessionConfig, graph: GraphDefinition, paths: FilePaths) -> dict:
    streams = {}
    for name, spec in graph.streams.items():
        node = graph.node(spec.nickname)
        entry: dict = {"source_node": node.name}
        if spec.enable is not None:
            entry["enable"] = spec.enable
        entry["sync"] = list(spec.sync)
        entry["name"] = spec.yaml_stream
        for key in node.streams[spec.yaml_stream].keys:
            if key.nwb is not None:
                entry[key.name] = key.name
        streams[name] = entry
    return {**_common_parameters(config, paths), "streams": streams}


def _exp_parameters(config: SessionConfig, graph: GraphDefinition, paths: FilePaths) -> dict:
    parameters = _common_parameters(config, paths)
    parameters["ch_mask_stream"] = "z_mask_stream"
    parameters["thresh_stream"] = "thresholds"
    parameters["norm_stream"] = "normalization_parameters"
    if config.find_reset_stream:
        parameters["find_reset_stream"] = "binned_spikes"
        parameters["reset_keys"] = ["nsp_idx_1"]
    streams = {}
    for name, spec in graph.streams.items():
        entry: dict = {}
        if spec.enable is not None:
            entry["enable"] = spec.enable
        entry["sync"] = list(spec.sync)
        if spec.rate is not None:
            entry["rate"] = int(spec.rate) if float(spec.rate).is_integer() else spec.rate
        streams[name] = entry
    parameters["streams"] = streams
    return parameters


def graph_file(config: SessionConfig) -> str:
    """The graph YAML path the supervisor was asked to load (``loadGraph file``)."""
    return f"{MODULE_NSP}/graphs/{config.graph_name}.yaml"
