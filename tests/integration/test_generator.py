"""The synthetic session generator against a real redis-server: read back with plain redis-py, compare to truth."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import redis
import yaml

from neuroconv_brand.sources.redis_server import EmbeddedRedisServer, read_rdb_version
from neuroconv_brand.testing import (
    FieldLayout,
    SessionConfig,
    SessionTargetError,
    SessionWriteError,
    StreamTruth,
    SyntheticSession,
    generate_session,
    save_session_rdb,
)
from neuroconv_brand.testing.resp import PipelinedWriter, encode_xadd

SMALL = {"duration_s": 3.0, "n_arrays": 2, "channels_per_array": 8}
CONFIGS = {
    "2025-hazards-raw": SessionConfig(**SMALL, era="2025", hazards=True, raw=True, samples_per_entry=6),
    "2024-stavisky-two-nsps": SessionConfig(
        **SMALL,
        era="2024",
        raw=True,
        raw_layout="sample-major",
        split_arrays=True,
        two_nsps=True,
        sync_clock="nsp_samples",
        bin_features="crossings+sbp",
        bin_ms=10,
        trial_info_vector=True,
        norm_bp=True,
        supergraph_update=True,
        find_reset_stream=True,
        seed=5,
    ),
    "2023-split-hazards": SessionConfig(**SMALL, era="2023", split_arrays=True, hazards=True, seed=2),
    "2022-core-hazards": SessionConfig(**SMALL, era="2022-core", hazards=True, array_map=False),
    "2022-07": SessionConfig(duration_s=3.0, era="2022-07", hazards=True, channels_per_array=96, n_arrays=1),
}


# ------------------------------------------------------------------------------------------- helpers
def read_stream(client: redis.Redis, name: str) -> tuple[np.ndarray, list[dict[bytes, bytes]]]:
    entries = client.xrange(name)
    ids = np.array([[int(part) for part in entry_id.split(b"-")] for entry_id, _ in entries], dtype=np.uint64)
    return ids.reshape(-1, 2), [values for _, values in entries]


def decode(values: list[bytes], layout: FieldLayout) -> np.ndarray:
    """Independent decoding of one field of every entry into logical (n, samp, chan) order."""
    if layout.encoding == "text":
        return np.array([value.decode() for value in values], dtype=object)
    flat = np.frombuffer(b"".join(values), dtype=np.dtype(layout.dtype).newbyteorder("<"))
    if layout.layout == "channel-major":
        return flat.reshape(len(values), layout.chan, layout.samp).transpose(0, 2, 1)
    return flat.reshape(len(values), layout.samp, layout.chan)


def assert_stream_matches(client: redis.Redis, truth: StreamTruth) -> list[dict[bytes, bytes]]:
    ids, entries = read_stream(client, truth.name)
    assert np.array_equal(ids, truth.ids), truth.name
    layouts = truth.raw_fields
    for index, entry in enumerate(entries):
        expected_keys = {
            name.encode()
            for name, layout in layouts.items()
            if not (layout.encoding == "text" and truth.fields[name][index] is None)
        }
        assert set(entry) == expected_keys, (truth.name, index)
    if "sync" in layouts:
        for index, entry in enumerate(entries):
            expected = truth.sync_dict(index)
            assert json.loads(entry[b"sync"]) == expected
            assert entry[b"sync"] == json.dumps(expected).encode()
    if "ts" in layouts:
        raw_ts = [entry[b"ts"] for entry in entries]
        if layouts["ts"].encoding == "ascii":
            ts = np.array([int(Decimal(value.decode()) * 10**9) for value in raw_ts], dtype=np.uint64)
        else:
            assert {len(value) for value in raw_ts} == {8}
            ts = np.frombuffer(b"".join(raw_ts), dtype="<u8")
        assert np.array_equal(ts, truth.ts_ns)
    else:
        assert truth.ts_ns is None
    for name, layout in layouts.items():
        if name in ("sync", "ts"):
            continue
        expected = truth.fields[name]
        if layout.encoding == "text":
            got = [entry.get(name.encode()) for entry in entries]
            assert [None if v is None else v.decode() for v in got] == list(expected), (truth.name, name)
            continue
        assert {len(entry[name.encode()]) for entry in entries} <= {layout.entry_nbytes}
        values = decode([entry[name.encode()] for entry in entries], layout)
        assert expected.shape == (truth.n_entries, layout.samp, layout.chan)
        assert np.array_equal(values, expected), (truth.name, name)
    return entries


@pytest.fixture(params=list(CONFIGS), scope="module")
def session(request, redis_server: EmbeddedRedisServer, tmp_path_factory) -> tuple[SyntheticSession, Path]:
    client = redis_server.client()
    client.flushall()
    folder = tmp_path_factory.mktemp(request.param)
    truth = generate_session(client, CONFIGS[request.param], folder)
    client.close()
    return truth, folder


@pytest.fixture
def loaded(session, redis_server: EmbeddedRedisServer):
    """(truth, folder, client) with the session's data in the server (regenerated if a test flushed it)."""
    truth, folder = session
    client = redis_server.client()
    if (
        not client.exists("supergraph_stream")
        or client.xrevrange("supergraph_stream", count=1)[0][1][b"data"]
        != json.dumps(truth.supergraph).encode()
    ):
        client.flushall()
        generate_session(client, truth.config, folder)
    yield truth, folder, client
    client.close()


# --------------------------------------------------------------------------------------------- tests
def test_every_stream_reads_back_exactly(loaded):
    truth, _, client = loaded
    written = {key.decode() for key in client.keys("*") if client.type(key) == b"stream"}
    assert written == set(truth.streams)
    for stream in truth.streams.values():
        assert_stream_matches(client, stream)
    for absent in truth.absent_streams:
        assert not client.exists(absent)
    data = [truth.streams[name] for name in truth.data_streams]
    assert truth.session_start_ms == min(int(s.ids[0, 0]) for s in data) == truth.config.start_time_ms
    assert truth.session_end_ms == max(int(s.ids[-1, 0]) for s in data)


def test_nsp_streams_follow_the_pipeline(loaded):
    truth, _, client = loaded
    config = truth.config
    crossing_streams = [name for name in truth.streams if name.startswith("thresh_cross")]
    read = {name: read_stream(client, name)[1] for name in crossing_streams}
    crossings = np.concatenate(
        [
            decode([e[b"crossings"] for e in read[name]], truth.streams[name].raw_fields["crossings"])
            for name in read
        ],
        axis=2,
    )[:, 0, :]
    n_ticks = len(crossings)
    # binned_spikes: consecutive groups of bin_ms 1 kHz entries, labelled with the first entry's sync
    _, binned = read_stream(client, "binned_spikes")
    layout = truth.streams["binned_spikes"].raw_fields["samples"]
    samples = decode([e[b"samples"] for e in binned], layout)[:, 0, :]
    n_bins = n_ticks // config.bin_ms
    assert len(binned) == n_bins
    counts = crossings[: n_bins * config.bin_ms].reshape(n_bins, config.bin_ms, -1).sum(axis=1)
    assert np.array_equal(samples[:, : config.n_channels], counts)
    first_syncs = {}
    for name in crossing_streams:
        for index in range(0, n_bins * config.bin_ms, config.bin_ms):
            first_syncs.setdefault(index, {}).update(json.loads(read[name][index][b"sync"]))
    assert [json.loads(e[b"sync"]) for e in binned] == [first_syncs[k] for k in sorted(first_syncs)]
    assert [int(np.frombuffer(e[b"i"], "<u8")[0]) for e in binned] == list(range(n_bins))
    # spike ground truth = non-zero crossings, per channel of each stream
    offset = 0
    for name in crossing_streams:
        width = truth.streams[name].raw_fields["crossings"].chan
        for channel, entries in enumerate(truth.spike_entries(name)):
            assert np.array_equal(entries, np.flatnonzero(crossings[:, offset + channel]))
        offset += width
    if config.bin_features == "crossings+sbp":
        sbp = np.concatenate(
            [truth.streams[n].fields["samples"][:, 0, :] for n in truth.streams if n.startswith("sbp")],
            axis=1,
        )
        means = sbp[: n_bins * config.bin_ms].reshape(n_bins, config.bin_ms, -1).mean(axis=1)
        np.testing.assert_allclose(samples[:, config.n_channels :], means, rtol=1e-6)


def test_raw_stream_clocks(loaded):
    truth, _, client = loaded
    config = truth.config
    if not config.raw:
        pytest.skip("no raw stream in this configuration")
    raw = truth.streams[config.raw_stream]
    _, entries = read_stream(client, config.raw_stream)
    layouts = raw.raw_fields
    tracking = decode([e[b"tracking_id"] for e in entries], layouts["tracking_id"])[:, 0, 0].astype(np.int64)
    stamps = decode([e[b"timestamps"] for e in entries], layouts["timestamps"])[:, :, 0].astype(np.int64)
    assert np.all(np.diff(stamps, axis=1) == 1)  # +1 per 30 kHz sample inside an entry
    steps = np.diff(tracking)
    gap, reset = truth.hazards.dropped_ticks, truth.hazards.nsp_reset_tick
    expected_steps = np.ones(len(steps), dtype=np.int64)
    if gap is not None:
        expected_steps[gap[0] - 1] = gap[1] + 1
    if reset is not None:
        restart = truth.hazards.reset_first_entry[config.raw_stream]
        assert tracking[restart] == 0 and stamps[restart, 0] == 0
        expected_steps[restart - 1] = steps[restart - 1]
    assert np.array_equal(steps, expected_steps)
    assert np.array_equal(
        np.diff(stamps[:, 0])[expected_steps == 1], np.full((expected_steps == 1).sum(), 30 * 1)
    )
    if config.raw_layout == "channel-major":
        write = decode([e[b"write_timestamp"] for e in entries], layouts["write_timestamp"])[:, 0, :]
        assert np.array_equal(write[:, 0] * 1000 + write[:, 1] // 1000, raw.ids[:, 0].astype(np.int64))
        udp = decode([e[b"udp_recv_time"] for e in entries], layouts["udp_recv_time"])
        udp_us = udp[:, :, 0] * 10**6 + udp[:, :, 1]
        assert np.all(np.diff(udp_us, axis=1) > 0) and np.all(
            udp_us[:, -1] <= write[:, 0] * 10**6 + write[:, 1]
        )
        # the payload bytes are channel-major: channel c's samples are contiguous
        first = np.frombuffer(entries[0][b"samples"], "<i2").reshape(
            config.n_channels, config.samples_per_entry
        )
        assert np.array_equal(first.T, raw.field_slice("samples", 0, 1)[0])
    else:
        first = np.frombuffer(entries[0][b"samples"], "<i2").reshape(
            config.samples_per_entry, config.n_channels
        )
        assert np.array_equal(first, raw.field_slice("samples", 0, 1)[0])


def _pair(values: list[str]) -> list[tuple[int, int | None, int]]:
    trials, start, go = [], None, None
    for index, value in enumerate(values):
        if value == "start_time":
            start, go = index, None
        elif value == "go_cue_time" and start is not None and go is None:
            go = index
        elif value == "end_time" and start is not None:
            trials.append((start, go, index))
            start = go = None
    return trials


def test_trials_and_trial_info(loaded):
    truth, _, client = loaded
    key = truth.hazards.trial_state_key.encode()
    ids, states = read_stream(client, "state")
    values = [entry[key].decode() for entry in states]
    assert [(t.start_index, t.go_cue_index, t.end_index) for t in truth.trials] == _pair(values)
    assert len(truth.trials) >= 2
    state = truth.streams["state"]
    info, success = truth.streams["trial_info"], truth.streams["trial_success"]
    _, info_entries = read_stream(client, "trial_info")
    for trial in truth.trials:
        assert trial.start_id == tuple(int(v) for v in ids[trial.start_index])
        assert trial.end_id == tuple(int(v) for v in ids[trial.end_index])
        assert info_entries[trial.trial_info_index][b"cond_id"].decode() == trial.cond_id
        assert success.fields["success"][trial.trial_success_index, 0, 0] == int(trial.success)
        for other, index in ((info, trial.trial_info_index), (success, trial.trial_success_index)):
            # seq numbers are per stream: across streams only the id's ms is comparable
            assert state.ids[trial.start_index, 0] <= other.ids[index, 0] <= state.ids[trial.end_index, 0]
            assert state.ts_ns[trial.start_index] <= other.ts_ns[index] <= state.ts_ns[trial.end_index]
            label = state.graph_sync_labels[0]
            first, last = state.sync[label][trial.start_index], state.sync[label][trial.end_index]
            if first <= last:  # else the trial straddles the NSP clock reset
                assert first <= other.sync[label][index] <= last


def test_supergraph_entries(loaded):
    truth, _, client = loaded
    entries = client.xrange("supergraph_stream")
    assert [json.loads(values[b"data"]) for _, values in entries] == truth.supergraphs
    latest = json.loads(client.xrevrange("supergraph_stream", "+", "-", count=1)[0][1][b"data"])
    assert latest == truth.supergraph
    assert latest["graph_loaded_ts"] == truth.graph_loaded_ts
    era = truth.era
    assert ("streams" in latest) == (era == "2025")
    assert ("metadata" in latest) == (era == "2022-07")
    assert ("brand_hash" in latest) == (era == "2023")
    assert ("rdb_filename" in latest) == (era in ("2024", "2025"))
    node = latest["nodes"]["bin_multiple"]
    assert isinstance(node["redis_outputs"], list if era in ("2022-07", "2022-core") else dict)
    exp = latest["derivatives"]["exportNWB"]
    if era == "2022-07":
        assert latest["metadata"]["session_description"] == truth.description
    else:
        assert exp["parameters"]["description"] == truth.description
        assert exp["parameters"]["sync_timing_hz"] == truth.sync_timing_hz
    if truth.config.supergraph_update:
        assert len(truth.supergraphs) == 2 and truth.description.endswith("(parameters updated)")
        commands = [values[b"commands"] for _, values in client.xrange("supervisor_ipstream")]
        assert commands == [b"loadGraph", b"startGraph", b"updateParameters", b"stopGraph"]
    statuses = [values[b"status"] for _, values in client.xrange("graph_status")]
    assert statuses[0] == b"initialized" and statuses[-1] == b"stopped/not initialized"


def _definition(truth: SyntheticSession, stream: str) -> tuple[dict, dict]:
    """(stream definition with $params, node parameters) as a reader would locate it for ``stream``."""
    model = truth.supergraph
    if truth.era == "2025":
        return model["streams"][stream], {}
    for node in model["nodes"].values():
        outputs = node["redis_outputs"]
        if stream in outputs:
            path = truth.brand_base_dir / node["module"] / "nodes" / node["name"] / f"{node['name']}.yaml"
            document = yaml.safe_load(path.read_text())
            if truth.era == "2022-07":
                return document["RedisStreams"]["value"]["Outputs"][stream], node["parameters"]
            yaml_stream = outputs[stream] if isinstance(outputs, dict) else None
            if yaml_stream is None:
                yaml_stream = model["derivatives"]["exportNWB"]["parameters"]["streams"][stream]["name"]
            return document["RedisStreams"]["Outputs"][yaml_stream], node["parameters"]
    raise AssertionError(f"no node writes {stream}")


def _value(expression, parameters):
    if not isinstance(expression, str) or "$" not in expression:
        return expression
    product = 1
    for factor in expression.split("*"):
        value = parameters[factor.strip().lstrip("$")]
        value = value[0] if isinstance(value, list) else value
        if len(expression.split("*")) == 1:
            return value
        product *= value
    return product


def test_stream_definitions_match_the_payloads(loaded):
    truth, _, _ = loaded
    graph_streams = truth.supergraph["derivatives"]["exportNWB"].get("parameters", {}).get("streams")
    names = (
        list(graph_streams) if graph_streams else truth.supergraph["derivatives"]["exportNWB"]["redis_inputs"]
    )
    for stream in names:
        definition, parameters = _definition(truth, stream)
        assert definition["type_nwb"] in ("TimeSeries", "Position", "SpikeTimes", "Trial", "TrialInfo")
        if stream not in truth.streams:
            assert stream in truth.absent_streams
            continue
        layouts = truth.streams[stream].raw_fields
        for key, spec in definition.items():
            if not isinstance(spec, dict) or "nwb" not in spec:
                continue
            layout = layouts[key]
            chan, samp = (
                _value(spec["chan_per_stream"], parameters),
                _value(spec["samp_per_stream"], parameters),
            )
            sample_type = _value(spec["sample_type"], parameters)
            assert (chan, samp) == (layout.chan, layout.samp), (stream, key)
            if layout.encoding == "text":
                assert sample_type == "str"
            elif sample_type != "bool":
                assert np.dtype(sample_type) == np.dtype(layout.dtype), (stream, key)


def test_yaml_files(loaded):
    truth, folder, _ = loaded
    config = truth.config
    participant = yaml.safe_load(truth.participant_file.read_text())
    devices = {d["name"]: d for d in yaml.safe_load(truth.devices_file.read_text())}
    implants = participant["implants"]
    assert participant["metadata"]["participant_id"] == config.participant_id
    assert len(implants) == config.n_arrays
    assert sum(devices[implant["device"]]["electrode_qty"] for implant in implants) == config.n_channels
    assert all(set(d) == {"name", "electrode_qty", "description", "manufacturer"} for d in devices.values())
    assert len(truth.electrodes) == config.n_channels
    assert [e.row for e in truth.electrodes] == list(range(config.n_channels))
    assert [e.implant for e in truth.electrodes[:: config.channels_per_array]] == [
        i["name"] for i in implants
    ]
    for implant in implants:
        assert set(implant) >= {"name", "location", "position", "device", "connector", "serial"}
        if config.array_map:
            rows = list(csv.DictReader((truth.participant_file.parent / implant["array_map"]).open()))
            mine = [e for e in truth.electrodes if e.implant == implant["name"]]
            assert [(float(r["x"]), float(r["y"]), float(r["z"])) for r in rows] == [e.position for e in mine]
        else:
            assert "array_map" not in implant and truth.electrodes[0].position is None
    # the graph refers to the files relative to the base dir (absolute for 2025)
    exp = truth.supergraph["derivatives"]["exportNWB"]["parameters"]
    participant_ref = (
        truth.supergraph["metadata"]["participant_file"]
        if truth.era == "2022-07"
        else exp["participant_file"]
    )
    base = truth.brand_base_dir if truth.brand_base_dir is not None else Path("/")
    assert (base / participant_ref).resolve() == truth.participant_file.resolve()
    if truth.era == "2025":
        assert truth.brand_base_dir is None and truth.node_yaml_files == {}
    else:
        assert truth.brand_base_dir == folder.resolve() / "brand"
        assert set(truth.node_yaml_files) == {n["name"] for n in truth.supergraph["nodes"].values()}


def test_hazards_are_present_as_configured(loaded):
    truth, _, client = loaded
    config, hazards = truth.config, truth.hazards
    streams = truth.streams
    # empty sync dicts first, then labels
    for name, count in hazards.empty_sync.items():
        syncs = [json.loads(v[b"sync"]) for _, v in client.xrange(name, count=count + 1)]
        assert syncs[:count] == [{}] * count and syncs[count] != {}
    assert bool(hazards.empty_sync) == config.hazard("empty_sync")
    # same-millisecond entries
    seqs = {name: int(s.ids[:, 1].max()) for name, s in streams.items() if s.n_entries}
    if config.hazard("same_ms_entries"):
        for name in streams:
            if name.startswith(("thresh_cross", "sbp")) or name == config.raw_stream:
                assert seqs[name] == 2
        end, start = hazards.same_ms_state_pair
        assert streams["state"].ids[end, 0] == streams["state"].ids[start, 0]
        assert streams["state"].ids[start, 1] == streams["state"].ids[end, 1] + 1
    else:
        assert max(seqs.values()) == 0
    # trial hazards
    values = list(streams["state"].fields[hazards.trial_state_key])
    if config.hazard("orphan_trial_events"):
        assert values[hazards.missing_end_start] == "start_time"
        assert values[hazards.orphan_end] == "end_time"
        assert hazards.missing_end_start not in {t.start_index for t in truth.trials}
    if config.hazard("unfinished_trial"):
        assert "end_time" not in values[hazards.unfinished_start :]
    else:
        assert values[-1] == "end_time"
    # NSP reset: every NSP label restarts, in every stream carrying it
    if config.hazard("nsp_reset"):
        for name, first in hazards.reset_first_entry.items():
            stream = streams[name]
            for label, values_ in stream.sync.items():
                if label.startswith("nsp_idx"):
                    assert values_[first] < values_[first - 1]
                    assert np.all(np.diff(values_[first:][stream.sync_present[label][first:]]) >= 0)
    else:
        for stream in streams.values():
            for label, values_ in stream.sync.items():
                present = stream.sync_present[label]
                assert np.all(np.diff(values_[present]) >= 0)
    # labels outside the graph's sync list
    for name, labels in hazards.extra_sync_labels.items():
        entry = json.loads(client.xrange(name)[-1][1][b"sync"])
        assert set(labels) <= set(entry) and not set(labels) & set(streams[name].graph_sync_labels)
    assert bool(hazards.extra_sync_labels) == config.hazard("extra_sync_labels")
    # Position nwb block with an extra key, custom trial state key
    cursor, _ = _definition(truth, "cursorData")
    assert ("foo" in cursor["X"]["nwb"]) == config.hazard("position_extra_nwb")
    state, _ = _definition(truth, "state")
    assert state[hazards.trial_state_key]["nwb"]["trial_state"] == hazards.trial_state_key
    assert (hazards.trial_state_key == "task_state") == config.hazard("custom_trial_state_key")
    # dropped packets: 1 kHz streams skip the lost ticks
    if config.hazard("dropped_packets"):
        first, count = hazards.dropped_ticks
        thresh = next(streams[n] for n in streams if n.startswith("thresh_cross"))
        label = thresh.sync["nsp_idx_1"] if config.sync_clock == "tracking_id" else None
        assert thresh.n_entries == config.n_ticks - count
        if label is not None:
            assert label[first] - label[first - 1] == count + 1


def test_clean_session(redis_client, tmp_path):
    truth = generate_session(
        redis_client, SessionConfig(duration_s=2.0, n_arrays=1, channels_per_array=4), tmp_path
    )
    assert truth.trials and all(s.ids[:, 1].max() == 0 for s in truth.streams.values())
    assert truth.hazards.nsp_reset_tick is None and truth.hazards.empty_sync == {}
    assert truth.absent_streams == ["nsp_neural"] and not redis_client.exists("nsp_neural")
    thresh = truth.streams["thresh_cross"]
    assert np.array_equal(thresh.sync["nsp_idx_1"], 120_000 + np.arange(2000))
    assert np.array_equal(thresh.field_slice("crossings", 10, 20), thresh.fields["crossings"][10:20])
    assert thresh.id_strings()[0] == f"{truth.session_start_ms}-0"
    for stream in truth.streams.values():
        assert_stream_matches(redis_client, stream)


def test_other_keys_are_kept_and_existing_streams_refused(redis_client, tmp_path):
    redis_client.set("unrelated", b"1")
    generate_session(redis_client, SessionConfig(duration_s=0.5, task=False), tmp_path / "a")
    assert redis_client.get("unrelated") == b"1"
    with pytest.raises(SessionTargetError, match="already holds supergraph_stream, graph_status"):
        generate_session(redis_client, SessionConfig(duration_s=0.5, task=False), tmp_path / "b")


def test_refused_entry_names_stream_and_id(redis_client):
    with pytest.raises(SessionWriteError, match=r"XADD bad 0-0: .*greater than 0-0"):
        with PipelinedWriter(redis_client) as writer:
            writer.send(
                "bad", np.array([[0, 0]], dtype=np.uint64), [encode_xadd(b"bad", b"0-0", {b"a": b"1"})]
            )
    assert redis_client.ping()


def test_save_session_rdb_round_trip(redis_client, tmp_path):
    config = SessionConfig(duration_s=1.0, n_arrays=1, channels_per_array=8, raw=True, hazards=False)
    rdb_path = tmp_path / "out" / "session.rdb"
    truth = save_session_rdb(config, rdb_path, tmp_path / "files")
    assert rdb_path.read_bytes()[:9] == b"REDIS0009" and read_rdb_version(rdb_path) == 9
    generate_session(redis_client, config, tmp_path / "files-live")
    with EmbeddedRedisServer(rdb_path) as server:
        client = server.client()
        assert (
            sorted(client.keys("*"))
            == sorted(redis_client.keys("*"))
            == sorted(n.encode() for n in truth.streams)
        )
        for name in truth.streams:
            if name == "supergraph_stream":  # participant paths differ: the two sessions used other folders
                assert len(client.xrange(name)) == len(redis_client.xrange(name)) == 1
                continue
            assert client.xrange(name) == redis_client.xrange(name), name
            assert_stream_matches(client, truth.streams[name])
        client.close()
