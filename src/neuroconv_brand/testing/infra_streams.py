"""Parameter streams (calcThreshNorm / zMaskToRedis outputs) and the supervisor's streams.

Timeline around the data (ms relative to ``start_time_ms``): graph_status ``initialized`` -6000,
``loadGraph`` -5000, ``parsing`` -4999, supergraph -4990, ``published`` -4985, parameter streams
-4000..-3980, ``startGraph`` -2000, ``running`` -1990, data 0..duration, optional ``updateParameters``
and second supergraph at duration/2, ``stopGraph`` duration+100, ``stopped/not initialized`` +110.
"""

from __future__ import annotations

import json

import numpy as np

from .config import SessionConfig
from .supergraph import UPDATED_THRESH_MULT, graph_file
from .timeline import TICK_NS, entry_ids
from .truth import FieldLayout, FieldSource, StreamTruth

LOAD_GRAPH_MS = -5000
SUPERGRAPH_MS = -4990
PARAMETERS_MS = -4000
#: Every 17th channel (from channel 5) is masked out in z_mask_stream.
MASK_PERIOD, MASK_PHASE = 17, 5


def supergraph_times_ms(config: SessionConfig) -> list[int]:
    """Relative ms of each supergraph entry."""
    times = [SUPERGRAPH_MS]
    if config.supergraph_update:
        times.append(_update_ms(config) + 3)
    return times


def _update_ms(config: SessionConfig) -> int:
    return config.n_ticks // 2


def enabled_channels(n_channels: int) -> np.ndarray:
    """Channels listed in ``z_mask_stream.channels`` (uint16)."""
    channels = np.arange(n_channels)
    return channels[channels % MASK_PERIOD != MASK_PHASE].astype(np.uint16)


def build_parameter_streams(config: SessionConfig) -> dict[str, StreamTruth]:
    """``z_mask_stream``, ``thresholds`` and ``normalization_parameters``, one entry each."""
    rng = np.random.default_rng([config.seed, 51])
    n = config.n_channels
    n_norm = 2 * n if config.norm_bp else n
    rms = rng.uniform(15.0, 40.0, n)
    arrays = {
        "z_mask_stream": {"channels": enabled_channels(n)},
        "thresholds": {"thresholds": -4.5 * rms},
        "normalization_parameters": {
            "means": rng.uniform(0.0, 2.0, n_norm),
            "stds": rng.uniform(0.5, 3.0, n_norm),
        },
    }
    streams = {}
    for offset, (name, fields) in enumerate(arrays.items()):
        logical = {key: values.reshape(1, 1, -1) for key, values in fields.items()}
        streams[name] = StreamTruth(
            name=name,
            role="parameter",
            ids=entry_ids(config.start_time_ms, np.array([(PARAMETERS_MS + 10 * offset) * TICK_NS])),
            ts_ns=None,
            sync={},
            sync_present={},
            raw_fields={
                key: FieldLayout(key, "buffer", values.dtype.name, 1, values.shape[2])
                for key, values in logical.items()
            },
            source=FieldSource.from_arrays(logical),
        )
    return streams


def build_infrastructure_streams(config: SessionConfig, supergraphs: list[dict]) -> dict[str, StreamTruth]:
    """``supergraph_stream``, ``graph_status`` and ``supervisor_ipstream``."""
    end_ms = config.n_ticks
    status = [
        (-6000, "initialized"),
        (-4999, "parsing"),
        (-4985, "published"),
        (-1990, "running"),
        (end_ms + 110, "stopped/not initialized"),
    ]
    commands: list[tuple[int, dict[str, str]]] = [
        (LOAD_GRAPH_MS, {"commands": "loadGraph", "file": graph_file(config)}),
        (-2000, {"commands": "startGraph"}),
    ]
    if config.supergraph_update:
        change = json.dumps({"thresh_mult": UPDATED_THRESH_MULT})
        commands.append((_update_ms(config), {"commands": "updateParameters", "nsp_all": change}))
    commands.append((end_ms + 100, {"commands": "stopGraph", "do_save": "1", "do_derivatives": "1"}))
    supergraph_ms = supergraph_times_ms(config)
    return {
        "supergraph_stream": _text_stream(
            config, "supergraph_stream", supergraph_ms, [{"data": json.dumps(model)} for model in supergraphs]
        ),
        "graph_status": _text_stream(
            config, "graph_status", [t for t, _ in status], [{"status": value} for _, value in status]
        ),
        "supervisor_ipstream": _text_stream(
            config, "supervisor_ipstream", [t for t, _ in commands], [values for _, values in commands]
        ),
    }


def _text_stream(
    config: SessionConfig, name: str, times_ms: list[int], entries: list[dict[str, str]]
) -> StreamTruth:
    keys: list[str] = []
    for entry in entries:
        keys += [key for key in entry if key not in keys]
    arrays = {key: np.array([entry.get(key) for entry in entries], dtype=object) for key in keys}
    return StreamTruth(
        name=name,
        role="infrastructure",
        ids=entry_ids(config.start_time_ms, np.array(times_ms, dtype=np.int64) * TICK_NS),
        ts_ns=None,
        sync={},
        sync_present={},
        raw_fields={key: FieldLayout(key, "text") for key in keys},
        source=FieldSource.from_arrays(arrays),
    )
