"""The radialFSM streams (``cursorData``, ``targetData``, ``state``, ``trial_success``, ``trial_info``)."""

from __future__ import annotations

import numpy as np

from .config import SessionConfig
from .definitions import GraphDefinition
from .nsp_streams import Bins, monotonic_ns, sync_layout, ts_layout
from .task import TaskTrace, simulate_task
from .timeline import entry_ids
from .truth import FieldLayout, FieldSource, StreamTruth

#: The FSM iteration follows its bin by this much (decoder + FSM processing).
ITERATION_LATENCY_NS = 100_000
#: Leading iterations (before the first decoder output) with ``sync == {}`` under the empty_sync hazard.
EMPTY_SYNC_ITERATIONS = 3
EXTRA_LABEL = "decoder_idx"


def build_task_streams(
    config: SessionConfig, graph: GraphDefinition, bins: Bins
) -> tuple[dict[str, StreamTruth], TaskTrace, int]:
    """The task streams, the simulation behind them and the number of leading empty-sync iterations."""
    n_lead = EMPTY_SYNC_ITERATIONS if config.hazard("empty_sync") else 0
    bin_iteration_ns = bins.write_ns + ITERATION_LATENCY_NS
    lead_ns = (bin_iteration_ns[0] * np.arange(1, n_lead + 1, dtype=np.int64)) // (n_lead + 1)
    iteration_ns = np.concatenate([lead_ns, bin_iteration_ns])
    trace = simulate_task(config, iteration_ns, n_lead)
    streams = {}
    for name, stream in trace.streams.items():
        spec = graph.streams[name]
        bin_index = stream.iteration - n_lead
        has_bin = bin_index >= 0
        sync = {
            label: np.where(has_bin, bins.labels[label][np.maximum(bin_index, 0)], 0) for label in bins.labels
        }
        present = {label: has_bin.copy() for label in bins.labels}
        if name == "cursorData" and config.hazard("extra_sync_labels"):
            sync[EXTRA_LABEL] = np.where(has_bin, bin_index, 0).astype(np.int64)
            present[EXTRA_LABEL] = has_bin.copy()
        fields = {**stream.fields, "i": stream.iteration.astype(np.uint32)[:, None, None]}
        layouts = {field: _layout(field, values) for field, values in fields.items()}
        layouts.update(sync=sync_layout(), ts=ts_layout(config))
        streams[name] = StreamTruth(
            name=name,
            role="data",
            ids=entry_ids(config.start_time_ms, stream.rel_ns),
            ts_ns=monotonic_ns(config, stream.rel_ns),
            sync={label: values.astype(np.int64) for label, values in sync.items()},
            sync_present=present,
            raw_fields=layouts,
            source=FieldSource.from_arrays(fields),
            type_nwb=graph.stream_def(name).type_nwb,
            graph_sync_labels=spec.sync,
            rate_hz=spec.rate,
        )
    return streams, trace, n_lead


def _layout(name: str, values: np.ndarray) -> FieldLayout:
    if values.dtype == object:
        return FieldLayout(name, "text")
    return FieldLayout(name, "buffer", values.dtype.name, values.shape[1], values.shape[2])
