"""The NSP pipeline's streams: raw broadband, threshold crossings, spike-band power, binned spikes.

Writers modelled: cerebusAdapterGem (channel-major ``nsp_neural``, no sync/ts) or the Stavisky-lab
``continuousNeural`` (sample-major), nsp_all/thresholdExtraction (``thresh_cross[_k]``, ``sbp[_k]``) and
bin_multiple (``binned_spikes``, labelled with the sync of the first 1 ms entry of each bin).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SessionConfig
from .definitions import GraphDefinition, array_groups
from .neural import NeuralSignals
from .timeline import NSP_SAMPLE_RATE, NspTimeline, derived_write_times, entry_ids
from .truth import FieldLayout, FieldSource, StreamTruth

THRESH_LATENCY_NS = 150_000
SBP_LATENCY_NS = 200_000
GROUP_STAGGER_NS = 10_000
BIN_LATENCY_NS = 300_000
#: A UDP packet arrives this long before the adapter writes its entry; BRANDS_time is taken after it.
UDP_LEAD_NS = 120_000
BRANDS_AFTER_UDP_NS = 15_000


@dataclass(frozen=True)
class Bins:
    """bin_multiple's bins: ticks ``(n_bins, bin_size)``, write times (rel ns) and sync labels per bin."""

    ticks: np.ndarray
    write_ns: np.ndarray
    labels: dict[str, np.ndarray]


def sync_layout() -> FieldLayout:
    """The ``sync`` field."""
    return FieldLayout("sync", "json")


def ts_layout(config: SessionConfig) -> FieldLayout:
    """The ``ts`` field: uint64 ns buffer, or ASCII seconds for the 2022-07 era."""
    if config.resolved_ts_encoding == "ascii":
        return FieldLayout("ts", "ascii", "float64")
    return FieldLayout("ts", "buffer", "uint64")


def monotonic_ns(config: SessionConfig, rel_ns: np.ndarray) -> np.ndarray:
    """CLOCK_MONOTONIC readings (uint64 ns) of writes at ``rel_ns``."""
    return (config.monotonic_offset_ns + np.asarray(rel_ns, dtype=np.int64)).astype(np.uint64)


def build_nsp_streams(
    config: SessionConfig, timeline: NspTimeline, signals: NeuralSignals, graph: GraphDefinition
) -> tuple[dict[str, StreamTruth], Bins]:
    """Every NSP-derived stream and the bins the task loop runs on."""
    rng = np.random.default_rng([config.seed, 41])
    ticks = timeline.ticks
    base_ns = timeline.t_ns[ticks]
    streams: dict[str, StreamTruth] = {}
    if config.raw:
        streams[config.raw_stream] = _raw_stream(config, timeline, signals, graph)
    for number, (suffix, first, stop, labels) in enumerate(array_groups(config)):
        stagger = GROUP_STAGGER_NS * min(number, 8)
        nsp_label = "nsp_idx_2" if labels == ("nsp_idx_2",) else "nsp_idx_1"
        clock = timeline.nsp_clock[nsp_label]
        thresh = f"thresh_cross{suffix}"
        streams[thresh] = _tick_stream(
            config,
            timeline,
            graph,
            thresh,
            labels,
            derived_write_times(base_ns, THRESH_LATENCY_NS + stagger, rng),
            {
                "crossings": (
                    FieldLayout("crossings", "buffer", "int16", chan=stop - first),
                    lambda a, b, f=first, s=stop: signals.crossings(ticks[a:b])[:, None, f:s],
                ),
                "timestamps": (
                    FieldLayout("timestamps", "buffer", "uint64"),
                    lambda a, b, c=clock: c[ticks[a:b]].astype(np.uint64)[:, None, None],
                ),
            },
        )
        if config.sbp:
            name = f"sbp{suffix}"
            streams[name] = _tick_stream(
                config,
                timeline,
                graph,
                name,
                labels,
                derived_write_times(base_ns, SBP_LATENCY_NS + stagger, rng),
                {
                    "samples": (
                        FieldLayout("samples", "buffer", "float32", chan=stop - first),
                        lambda a, b, f=first, s=stop: signals.sbp(ticks[a:b])[:, None, f:s],
                    )
                },
            )
    bins = _bins(config, timeline, rng)
    streams["binned_spikes"] = _binned_stream(config, graph, signals, bins)
    return streams, bins


def _tick_stream(
    config: SessionConfig,
    timeline: NspTimeline,
    graph: GraphDefinition,
    name: str,
    labels: tuple[str, ...],
    write_ns: np.ndarray,
    producers: dict,
) -> StreamTruth:
    ticks = timeline.ticks
    spec = graph.streams[name]
    layouts = {field: layout for field, (layout, _) in producers.items()}
    layouts.update(sync=sync_layout(), ts=ts_layout(config))
    return StreamTruth(
        name=name,
        role="data",
        ids=entry_ids(config.start_time_ms, write_ns),
        ts_ns=monotonic_ns(config, write_ns),
        sync={label: timeline.labels[label][ticks] for label in labels},
        sync_present={label: np.ones(len(ticks), dtype=bool) for label in labels},
        raw_fields=layouts,
        source=FieldSource({field: producer for field, (_, producer) in producers.items()}),
        type_nwb=graph.stream_def(name).type_nwb,
        graph_sync_labels=spec.sync,
        rate_hz=spec.rate,
        entry_ticks=ticks,
    )


def _bins(config: SessionConfig, timeline: NspTimeline, rng: np.random.Generator) -> Bins:
    bin_ticks = timeline.bins(config.bin_ms)
    write_ns = derived_write_times(timeline.t_ns[bin_ticks[:, -1]], BIN_LATENCY_NS, rng)
    labels = {label: timeline.labels[label][bin_ticks[:, 0]] for label in config.nsp_label_rates}
    return Bins(ticks=bin_ticks, write_ns=write_ns, labels=labels)


def _binned_stream(
    config: SessionConfig, graph: GraphDefinition, signals: NeuralSignals, bins: Bins
) -> StreamTruth:
    with_sbp = config.bin_features == "crossings+sbp"
    n_features = config.n_channels * (2 if with_sbp else 1)
    n_bins = len(bins.ticks)
    spec = graph.streams["binned_spikes"]
    return StreamTruth(
        name="binned_spikes",
        role="data",
        ids=entry_ids(config.start_time_ms, bins.write_ns),
        ts_ns=monotonic_ns(config, bins.write_ns),
        sync=dict(bins.labels),
        sync_present={label: np.ones(n_bins, dtype=bool) for label in bins.labels},
        raw_fields={
            "samples": FieldLayout("samples", "buffer", "float32", chan=n_features),
            "i": FieldLayout("i", "buffer", "uint64"),
            "sync": sync_layout(),
            "ts": ts_layout(config),
        },
        source=FieldSource(
            {
                "samples": lambda a, b: signals.binned(bins.ticks[a:b], with_sbp)[:, None, :],
                "i": lambda a, b: np.arange(a, b, dtype=np.uint64)[:, None, None],
            }
        ),
        type_nwb=graph.stream_def("binned_spikes").type_nwb,
        graph_sync_labels=spec.sync,
        rate_hz=spec.rate,
        entry_ticks=bins.ticks[:, -1],
    )


def _timeval(ns: np.ndarray) -> np.ndarray:
    """``struct timeval`` pairs (int64 seconds, int64 microseconds) of nanosecond times, last axis 2."""
    ns = np.asarray(ns, dtype=np.int64)
    return np.stack([ns // 1_000_000_000, (ns % 1_000_000_000) // 1000], axis=-1)


def _raw_stream(
    config: SessionConfig, timeline: NspTimeline, signals: NeuralSignals, graph: GraphDefinition
) -> StreamTruth:
    ticks = timeline.ticks
    samp = config.samples_per_entry
    n_ch = config.n_channels
    wall0_ns = config.start_time_ms * 1_000_000
    before_write = (samp - 1 - np.arange(samp, dtype=np.int64)) * 1_000_000_000 // NSP_SAMPLE_RATE

    def udp_rel(a: int, b: int) -> np.ndarray:
        return timeline.t_ns[ticks[a:b]][:, None] - UDP_LEAD_NS - before_write[None, :]

    def nsp_samples(a: int, b: int) -> np.ndarray:
        return timeline.nsp_clock["nsp_idx_1"][ticks[a:b]][:, None] + np.arange(samp, dtype=np.int64)[None, :]

    def samples(a: int, b: int) -> np.ndarray:
        return signals.raw_channel_major(ticks[a:b]).transpose(0, 2, 1)

    if config.raw_layout == "channel-major":
        layouts = {
            "samples": FieldLayout("samples", "buffer", "int16", samp, n_ch, "channel-major"),
            "timestamps": FieldLayout("timestamps", "buffer", "uint64", samp, 1),
            "BRANDS_time": FieldLayout("BRANDS_time", "buffer", "int64", samp, 2, struct="timeval"),
            "udp_recv_time": FieldLayout("udp_recv_time", "buffer", "int64", samp, 2, struct="timeval"),
            "tracking_id": FieldLayout("tracking_id", "buffer", "uint64"),
            "write_timestamp": FieldLayout("write_timestamp", "buffer", "int64", 1, 2, struct="timeval"),
        }
        producers = {
            "samples": samples,
            "timestamps": lambda a, b: nsp_samples(a, b).astype(np.uint64)[:, :, None],
            "BRANDS_time": lambda a, b: _timeval(
                config.monotonic_offset_ns + udp_rel(a, b) + BRANDS_AFTER_UDP_NS
            ),
            "udp_recv_time": lambda a, b: _timeval(wall0_ns + udp_rel(a, b)),
            "tracking_id": lambda a, b: timeline.tracking_id[ticks[a:b]].astype(np.uint64)[:, None, None],
            "write_timestamp": lambda a, b: _timeval(wall0_ns + timeline.t_ns[ticks[a:b]])[:, None, :],
        }
    else:
        layouts = {
            "samples": FieldLayout("samples", "buffer", "int16", samp, n_ch, "sample-major"),
            "timestamps": FieldLayout("timestamps", "buffer", "int64", samp, 1),
            "BRANDS_time": FieldLayout("BRANDS_time", "buffer", "float64", samp, 1),
            "udp_recv_time": FieldLayout("udp_recv_time", "buffer", "float64", samp, 1),
            "tracking_id": FieldLayout("tracking_id", "buffer", "int64"),
            "write_timestamp": FieldLayout("write_timestamp", "buffer", "float64"),
        }
        producers = {
            "samples": samples,
            "timestamps": lambda a, b: nsp_samples(a, b)[:, :, None],
            "BRANDS_time": lambda a, b: (
                (config.monotonic_offset_ns + udp_rel(a, b) + BRANDS_AFTER_UDP_NS) / 1e9
            )[:, :, None],
            "udp_recv_time": lambda a, b: ((wall0_ns + udp_rel(a, b)) / 1e9)[:, :, None],
            "tracking_id": lambda a, b: timeline.tracking_id[ticks[a:b]][:, None, None],
            "write_timestamp": lambda a, b: ((wall0_ns + timeline.t_ns[ticks[a:b]]) / 1e9)[:, None, None],
        }
    write_ns = timeline.t_ns[ticks]
    return StreamTruth(
        name=config.raw_stream,
        role="data",
        ids=entry_ids(config.start_time_ms, write_ns),
        ts_ns=None,
        sync={},
        sync_present={},
        raw_fields=layouts,
        source=FieldSource(producers),
        type_nwb=graph.stream_def(config.raw_stream).type_nwb,
        graph_sync_labels=graph.streams[config.raw_stream].sync,
        rate_hz=1000.0,
        entry_ticks=ticks,
    )
