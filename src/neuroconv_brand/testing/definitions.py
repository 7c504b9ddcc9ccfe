"""The synthetic graph: its nodes, their node-YAML stream definitions and the exported graph streams.

Shared by the supergraph builder (every era) and the node-YAML writer, so both describe the same graph.
Module paths follow real BRAND graphs (``../brand-modules/<module>``, relative to ``$BRAND_BASE_DIR``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .config import SessionConfig

MODULE_NSP = "../brand-modules/brand-nsp"
MODULE_TASK = "../brand-modules/cursor-control"
MODULE_STAVISKY = "../brand-modules/stavisky-lab"
MODULE_EXPORT = "../brand-modules/brand-export"

PARAMETER_STREAMS = ("z_mask_stream", "thresholds", "normalization_parameters")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class KeyDef:
    """One key of a node-YAML stream definition (``chan``/``samp``/``sample_type`` may be ``$param``)."""

    name: str
    chan: int | str
    samp: int | str
    sample_type: str
    nwb: dict | None

    def as_yaml(self, parameters: dict | None = None) -> dict:
        """The key's YAML dict; with ``parameters``, ``$param`` expressions substituted (supervisor style)."""
        values = {"chan_per_stream": self.chan, "samp_per_stream": self.samp, "sample_type": self.sample_type}
        if parameters is not None:
            values = {
                "chan_per_stream": int(evaluate(self.chan, parameters)),
                "samp_per_stream": int(evaluate(self.samp, parameters)),
                "sample_type": str(evaluate(self.sample_type, parameters)),
            }
        if self.nwb is not None:
            values["nwb"] = dict(self.nwb)
        return values


@dataclass(frozen=True)
class StreamDef:
    """A stream under ``RedisStreams.Outputs`` of a node YAML."""

    yaml_name: str
    enable_nwb: bool
    type_nwb: str
    keys: tuple[KeyDef, ...]

    def as_yaml(self, parameters: dict | None = None) -> dict:
        """The definition's YAML dict (see :meth:`KeyDef.as_yaml`)."""
        values: dict = {"enable_nwb": self.enable_nwb, "type_nwb": self.type_nwb}
        for key in self.keys:
            values[key.name] = key.as_yaml(parameters)
        return values


@dataclass(frozen=True)
class NodeDef:
    """A node of the graph (``nodes[nickname]`` in the supergraph)."""

    name: str
    nickname: str
    module: str
    parameters: dict
    outputs: dict[str, str]
    streams: dict[str, StreamDef]
    run_priority: int = 99
    cpu_affinity: str | None = None

    @property
    def yaml_path(self) -> str:
        """Node YAML path relative to ``$BRAND_BASE_DIR``: ``<module>/nodes/<name>/<name>.yaml``."""
        return f"{self.module}/nodes/{self.name}/{self.name}.yaml"

    @property
    def binary(self) -> str:
        """The node executable BRAND builds (``.bin`` for C and Python nodes alike)."""
        return f"{self.module}/nodes/{self.name}/{self.name}.bin"


@dataclass(frozen=True)
class GraphStreamDef:
    """A graph stream listed in exportNWB's ``streams``."""

    name: str
    nickname: str
    yaml_stream: str
    sync: tuple[str, ...]
    rate: float | None = None
    enable: bool | None = None


@dataclass(frozen=True)
class GraphDefinition:
    """The graph: nodes in order and the exported streams in order."""

    nodes: tuple[NodeDef, ...]
    streams: dict[str, GraphStreamDef] = field(default_factory=dict)

    def node(self, nickname: str) -> NodeDef:
        """The node with ``nickname``."""
        return next(node for node in self.nodes if node.nickname == nickname)

    def stream_def(self, graph_stream: str) -> StreamDef:
        """The node-YAML definition behind ``graph_stream``."""
        spec = self.streams[graph_stream]
        return self.node(spec.nickname).streams[spec.yaml_stream]

    def resolved(self, graph_stream: str) -> dict:
        """The compiled definition of ``graph_stream`` (``$params`` substituted from its node)."""
        spec = self.streams[graph_stream]
        node = self.node(spec.nickname)
        return node.streams[spec.yaml_stream].as_yaml(node.parameters)


def evaluate(expression: int | float | str, parameters: dict) -> int | float | str:
    """Substitute ``$param`` values (single-item lists unwrapped) and multiply ``*``-separated factors.

    Only the forms this generator writes are supported: ``$x``, a literal, or products like
    ``$n_channels * $n_features``. A whole-value ``$param`` may be a string (``$output_dtype``).
    """
    if not isinstance(expression, str) or "$" not in expression:
        return expression
    values = []
    for factor in expression.split("*"):
        factor = factor.strip()
        match = _PARAM.fullmatch(factor)
        value = parameters[match.group(1)] if match else factor
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        values.append(value)
    if len(values) == 1:
        return values[0]
    product = 1
    for value in values:
        product *= int(value)
    return product


# ---------------------------------------------------------------------------------- the graph
def array_groups(config: SessionConfig) -> list[tuple[str, int, int, tuple[str, ...]]]:
    """NSP stream groups: ``(suffix, first_channel, stop_channel, sync labels)``.

    One group per array with ``split_arrays`` (array 1 on NSP 1, the others on NSP 2 with ``two_nsps``),
    else one group of all channels carrying every NSP label.
    """
    labels = tuple(config.nsp_label_rates)
    if not config.split_arrays:
        return [("", 0, config.n_channels, labels)]
    width = config.channels_per_array
    groups = []
    for array in range(config.n_arrays):
        label = "nsp_idx_1" if array == 0 or not config.two_nsps else "nsp_idx_2"
        groups.append((f"_{array + 1}", array * width, (array + 1) * width, (label,)))
    return groups


def build_graph(config: SessionConfig) -> GraphDefinition:
    """The graph a BRAND rig would run for ``config``."""
    labels = tuple(config.nsp_label_rates)
    bin_rate = 1000.0 / config.bin_ms
    nodes = [_raw_node(config)]
    streams = {
        config.raw_stream: GraphStreamDef(
            config.raw_stream, nodes[0].nickname, next(iter(nodes[0].streams)), ("nsp_idx_1",), enable=False
        )
    }
    thresh_streams, sbp_streams = [], []
    for suffix, first, stop, group_labels in array_groups(config):
        node = _nsp_all_node(config, suffix, first, stop, group_labels)
        nodes.append(node)
        thresh_streams.append(f"thresh_cross{suffix}")
        streams[thresh_streams[-1]] = GraphStreamDef(
            thresh_streams[-1], node.nickname, "thresh_cross", group_labels, rate=1000.0
        )
        if config.sbp:
            sbp_streams.append(f"sbp{suffix}")
            streams[sbp_streams[-1]] = GraphStreamDef(
                sbp_streams[-1], node.nickname, "band_power", group_labels, rate=1000.0, enable=True
            )
    nodes.append(_bin_node(config, thresh_streams, sbp_streams))
    streams["binned_spikes"] = GraphStreamDef(
        "binned_spikes", "bin_multiple", "binned_spikes", labels, bin_rate
    )
    if config.task:
        task = _task_node(config)
        nodes.append(task)
        for name in task.outputs:
            rate = bin_rate if name in ("cursorData", "targetData") else None
            streams[name] = GraphStreamDef(name, task.nickname, name, labels, rate)
    return GraphDefinition(nodes=tuple(nodes), streams=streams)


def _raw_node(config: SessionConfig) -> NodeDef:
    nwb = {"unit": "0.25uV", "description": "Raw broadband data from Cerebus"}
    if config.raw_layout == "channel-major":
        definition = StreamDef(
            "ContinuousNeural",
            False,
            "TimeSeries",
            (KeyDef("samples", "$chan_per_stream", "$samp_per_stream", "int16", nwb),),
        )
        parameters = {
            "broadcast_ip": "192.168.137.255",
            "broadcast_port": 51002,
            "broadcast_device": "enp3s0f0",
            "num_streams": 1,
            "stream_names": [config.raw_stream],
            "samp_freq": [30000],
            "packet_type": [5],
            "chan_per_stream": [config.n_channels],
            "samp_per_stream": [config.samples_per_entry],
        }
        return NodeDef(
            "cerebusAdapterGem",
            "nsp_in",
            MODULE_NSP,
            parameters,
            {config.raw_stream: "ContinuousNeural"},
            {"ContinuousNeural": definition},
            cpu_affinity="18",
        )
    definition = StreamDef(
        "continuousNeural",
        False,
        "TimeSeries",
        (KeyDef("samples", "$n_channels", "$samp_per_stream", "int16", nwb),),
    )
    parameters = {
        "n_channels": config.n_channels,
        "samp_per_stream": config.samples_per_entry,
        "samp_freq": 30000,
        "output_stream": config.raw_stream,
        "channel_dim": 1,
    }
    return NodeDef(
        "nspAcquisition",
        "nsp_acq",
        MODULE_STAVISKY,
        parameters,
        {config.raw_stream: "continuousNeural"},
        {"continuousNeural": definition},
    )


def _nsp_all_node(
    config: SessionConfig, suffix: str, first: int, stop: int, labels: tuple[str, ...]
) -> NodeDef:
    definitions = {
        "thresh_cross": StreamDef(
            "thresh_cross",
            True,
            "SpikeTimes",
            (KeyDef("crossings", "$n_channels", 1, "int16", {"crossings": "crossings"}),),
        ),
        "band_power": StreamDef(
            "band_power",
            False,
            "TimeSeries",
            (
                KeyDef(
                    "samples",
                    "$n_channels",
                    1,
                    "float32",
                    {"unit": "(0.25uV)^2", "description": "Power within a frequency band"},
                ),
            ),
        ),
    }
    outputs = {f"thresh_cross{suffix}": "thresh_cross"}
    if config.sbp:
        outputs[f"sbp{suffix}"] = "band_power"
    parameters = {
        "log": "INFO",
        "input_stream": config.raw_stream,
        "output_streams": list(outputs),
        "sync_key": "sync",
        "ts_key": "ts",
        "use_tracking_id": config.sync_clock == "tracking_id",
        "td_type": "uint64",
        "sync_dict_key": labels[0],
        "thresh_mult": -4.5,
        "thresh_calc_len": 2000,
        "butter_lowercut": 250,
        "butter_order": 4,
        "ch_mask_stream": "z_mask_stream",
        "n_channels": stop - first,
        "input_samp_per_stream": config.samples_per_entry,
        "samp_freq": 30000,
        "neural_ch_range": [first, stop],
        "output_dtype": "float32",
        "bin_enable": False,
    }
    return NodeDef(
        "nsp_all", f"nsp_all{suffix}", MODULE_NSP, parameters, outputs, definitions, cpu_affinity="8-9"
    )


def _bin_node(config: SessionConfig, thresh_streams: list[str], sbp_streams: list[str]) -> NodeDef:
    with_sbp = config.bin_features == "crossings+sbp"
    definition = StreamDef(
        "binned_spikes",
        True,
        "TimeSeries",
        (
            KeyDef(
                "samples",
                "$n_channels * $n_features",
                1,
                "$output_dtype",
                {
                    "unit": "spikes",
                    "description": "spike counts" + (" and mean band power" if with_sbp else ""),
                },
            ),
        ),
    )
    parameters = {
        "log": "INFO",
        "input_streams": thresh_streams + (sbp_streams if with_sbp else []),
        "input_field": "crossings",
        "input_dtype": "int16",
        "n_channels": config.n_channels,
        "n_features": 2 if with_sbp else 1,
        "bin_size": config.bin_ms,
        "output_dtype": "float32",
        "output_stream": "binned_spikes",
    }
    return NodeDef(
        "bin_multiple",
        "bin_multiple",
        MODULE_NSP,
        parameters,
        {"binned_spikes": "binned_spikes"},
        {"binned_spikes": definition},
        cpu_affinity="10",
    )


def _position_key(
    name: str, frame: str, description: str, unit: str | None, extra: dict | None = None
) -> KeyDef:
    nwb: dict = {"reference_frame": frame}
    if unit is not None:
        nwb["unit"] = unit
        if name in ("X", "Y"):
            nwb["resolution"] = 1.0
    nwb["description"] = description
    nwb.update(extra or {})
    return KeyDef(name, 1, 1, "int32" if name == "state" else "float32", nwb)


def _task_node(config: SessionConfig) -> NodeDef:
    extra = {"foo": 1} if config.hazard("position_extra_nwb") else None
    cursor = StreamDef(
        "cursorData",
        True,
        "Position",
        (
            _position_key("X", "screen center", "x cursor position", "pixels", extra),
            _position_key("Y", "screen center", "y cursor position", "pixels"),
            _position_key("radius", "cursor center", "cursor radius", "pixels"),
            _position_key("state", "cursor click", "cursor click", None),
        ),
    )
    target = StreamDef(
        "targetData",
        True,
        "Position",
        (
            _position_key("X", "screen center", "x target position", "pixels"),
            _position_key("Y", "screen center", "y target position", "pixels"),
            _position_key("radius", "target center", "target radius", "pixels"),
            _position_key("state", "target visual state", "0=not shown, 1=yellow, 2=green, 3=red", None),
        ),
    )
    state_key = config.trial_state_key
    state = StreamDef(
        "state",
        True,
        "Trial",
        (
            KeyDef(
                state_key,
                1,
                1,
                "str",
                {
                    "trial_state": state_key,
                    "start_trial_indicators": ["start_time"],
                    "end_trial_indicators": ["end_time"],
                    "other_trial_indicators": ["go_cue_time"],
                    "go_cue_time_description": "Time of go cue onset",
                },
            ),
        ),
    )
    success = StreamDef(
        "trial_success",
        True,
        "TrialInfo",
        (
            KeyDef(
                "success",
                1,
                1,
                "bool",
                {
                    "description": "A boolean indicator of whether the trial's target was acquired successfully"
                },
            ),
        ),
    )
    info_keys = [
        KeyDef("target_X", 1, 1, "float32", {"description": "Target X position for trial"}),
        KeyDef("target_Y", 1, 1, "float32", {"description": "Target Y position for trial"}),
        KeyDef("start_X", 1, 1, "float32", {"description": "Position X of start target for trial"}),
        KeyDef("start_Y", 1, 1, "float32", {"description": "Position Y of start target for trial"}),
        KeyDef("cond_id", 1, 1, "str", {"description": "Target condition ID for trial"}),
        KeyDef("target_radius", 1, 1, "float32", {"description": "Target radius in pixels for trial"}),
        KeyDef("cursor_radius", 1, 1, "float32", {"description": "Cursor radius in pixels for trial"}),
        KeyDef("dwell_time", 1, 1, "float32", {"description": "Hold time over target for trial"}),
    ]
    if config.trial_info_vector:
        info_keys.append(KeyDef("target_pos", 2, 1, "float32", {"description": "Target (X, Y) for trial"}))
    info = StreamDef("trial_info", True, "TrialInfo", tuple(info_keys))
    definitions = {d.yaml_name: d for d in (cursor, target, state, success, info)}
    parameters = {
        "log": "INFO",
        "input_stream": "wiener_filter",
        "sync_key": "sync",
        "time_key": "ts",
        "n_targets": 8,
        "target_distance": 300,
        "target_radius": 40,
        "cursor_radius": 15,
        "hold_time": 0.5,
        "delay_time": [200, 400],
    }
    return NodeDef(
        "radialFSM",
        "radialFSM",
        MODULE_TASK,
        parameters,
        {name: name for name in definitions},
        definitions,
        run_priority=40,
    )
