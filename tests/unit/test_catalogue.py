"""The stream catalogue: built from a real redis-server holding a synthetic session, and its text/JSON forms."""

import json
from datetime import datetime, timezone

import pytest

from neuroconv_brand.apps.inspection import (
    NO_GRAPH,
    NOT_IN_GRAPH,
    NOT_IN_SOURCE,
    KeySummary,
    SessionCatalogue,
    StreamSummary,
    build_catalogue,
    describe_session,
    format_catalogue,
)
from neuroconv_brand.sources.entry_ids import EntryId
from neuroconv_brand.sources.session import BrandSession
from neuroconv_brand.testing import SessionConfig, generate_session

CONFIG = SessionConfig(duration_s=2.0, n_arrays=2, channels_per_array=64, era="2025", seed=0)


@pytest.fixture
def session_truth(redis_client, tmp_path):
    return generate_session(redis_client, CONFIG, tmp_path / "files")


def by_name(summaries):
    return {summary.name: summary for summary in summaries}


def test_every_source_stream_with_counts_ids_rates_and_sizes(redis_server, session_truth):
    with BrandSession.open(redis_server.socket_path) as session:
        summaries = build_catalogue(session, session.graph())
    names = [summary.name for summary in summaries]
    assert names == sorted(names)
    streams = by_name(summaries)
    assert set(streams) == set(session_truth.streams) | {"nsp_neural"}
    for name, truth in session_truth.streams.items():
        summary = streams[name]
        assert summary.length == truth.n_entries
        assert summary.first_id == EntryId(*map(int, truth.ids[0]))
        assert summary.last_id == EntryId(*map(int, truth.ids[-1]))
        assert summary.in_source
    sbp, truth = streams["sbp"], session_truth.streams["sbp"]
    span_s = (int(truth.ids[-1, 0]) - int(truth.ids[0, 0])) / 1000
    assert sbp.entry_rate_hz == pytest.approx((truth.n_entries - 1) / span_s, rel=1e-12)
    assert sbp.fields == ["sync", "samples", "ts"]
    first_entry_bytes = 128 * 4 + 8 + len(truth.sync_texts(0, 1)[0])
    assert sbp.approx_bytes == first_entry_bytes * truth.n_entries
    assert sbp.start_time == datetime.fromtimestamp(int(truth.ids[0, 0]) / 1000, tz=timezone.utc)
    assert sbp.duration_s == span_s
    # A single entry has no rate.
    assert streams["supergraph_stream"].length == 1
    assert streams["supergraph_stream"].entry_rate_hz is None


def test_graph_information_joined(redis_server, session_truth):
    with BrandSession.open(redis_server.socket_path) as session:
        streams = by_name(build_catalogue(session, session.graph()))
    sbp = streams["sbp"]
    assert (sbp.in_graph, sbp.type_nwb, sbp.enabled, sbp.enable_reason) == (
        True,
        "TimeSeries",
        True,
        "graph enable: true",
    )
    assert sbp.keys == [KeySummary("samples", 128, 1, "float32", "sample-major", True)]
    assert sbp.undeclared_fields == ["sync", "ts"]
    assert sbp.declared_rate_hz == 1000.0
    assert sbp.sync_labels == ["nsp_idx_1"]
    thresh = streams["thresh_cross"]
    assert (thresh.type_nwb, thresh.enabled, thresh.enable_reason) == (
        "SpikeTimes",
        True,
        "node enable_nwb: true",
    )
    status = streams["graph_status"]
    assert (status.in_graph, status.enabled, status.enable_reason) == (False, None, NOT_IN_GRAPH)


def test_graph_stream_absent_from_source(redis_server, session_truth):
    assert session_truth.absent_streams == ["nsp_neural"]
    with BrandSession.open(redis_server.socket_path) as session:
        raw = by_name(build_catalogue(session, session.graph()))["nsp_neural"]
    assert (raw.in_source, raw.length, raw.note, raw.first_id, raw.entry_rate_hz, raw.approx_bytes) == (
        False,
        0,
        NOT_IN_SOURCE,
        None,
        None,
        None,
    )
    assert (raw.enabled, raw.enable_reason) == (False, "graph enable: false")
    assert raw.keys == [KeySummary("samples", 128, 30, "int16", "channel-major", True)]


def test_without_graph(redis_server, redis_client):
    redis_client.xadd("sbp", {"samples": b"\x00" * 8, "ts": b"\x01" * 8}, id="1700000000000-0")
    redis_client.xadd("sbp", {"samples": b"\x00" * 8, "ts": b"\x01" * 8}, id="1700000000500-0")
    redis_client.xadd("sbp", {"samples": b"\x00" * 8, "ts": b"\x01" * 8}, id="1700000001000-0")
    with BrandSession.open(redis_server.socket_path) as session:
        (sbp,) = build_catalogue(session, None)
        report = describe_session(session)
    assert (sbp.length, sbp.entry_rate_hz, sbp.approx_bytes, sbp.enable_reason, sbp.enabled) == (
        3,
        2.0,
        48,
        NO_GRAPH,
        None,
    )
    assert report.graph is None
    assert report.metadata_files == []
    assert len(report.notes) == 1
    assert "has no 'supergraph_stream'" in report.notes[0]
    assert "listed without graph information" in report.notes[0]


def test_unreadable_graph_is_a_note(redis_server, redis_client):
    redis_client.xadd("supergraph_stream", {"data": b"[1, 2]"}, id="1700000000000-0")
    with BrandSession.open(redis_server.socket_path) as session:
        report = describe_session(session)
    assert report.graph is None
    assert [s.name for s in report.streams] == ["supergraph_stream"]
    assert "'data' is not a JSON object" in report.notes[0]


def test_empty_stream_and_same_millisecond_entries(redis_server, redis_client):
    redis_client.xgroup_create("empty", "readers", id="0", mkstream=True)
    redis_client.xadd("burst", {"x": b"1"}, id="1700000000000-0")
    redis_client.xadd("burst", {"x": b"2"}, id="1700000000000-1")
    with BrandSession.open(redis_server.socket_path) as session:
        streams = by_name(build_catalogue(session, None))
    empty, burst = streams["empty"], streams["burst"]
    assert (empty.length, empty.fields, empty.approx_bytes, empty.start_time, empty.duration_s) == (
        0,
        [],
        None,
        None,
        None,
    )
    assert (burst.length, burst.entry_rate_hz, burst.duration_s) == (2, None, 0.0)


def test_msgpack_encoding_is_noted(redis_server, redis_client):
    redis_client.xadd("decoder", {"_hdr": b"\x81", "data": b"\x80"}, id="1700000000000-0")
    with BrandSession.open(redis_server.socket_path) as session:
        (decoder,) = build_catalogue(session, None)
    assert "2025 msgpack encoding" in decoder.note


def test_relative_metadata_files_resolved_against_base_dir(redis_server, redis_client, tmp_path):
    truth = generate_session(redis_client, SessionConfig(duration_s=1.0, era="2024", task=False), tmp_path)
    with BrandSession.open(redis_server.socket_path) as session:
        without_base = describe_session(session)
        with_base = describe_session(session, brand_base_dir=truth.brand_base_dir)
    participant, devices = with_base.metadata_files
    assert (participant.role, participant.named_as, participant.path, participant.exists) == (
        "participant",
        "../config/t0/t0.yaml",
        truth.participant_file,
        True,
    )
    assert (devices.path, devices.exists) == (truth.devices_file, True)
    assert [(f.path, f.exists) for f in without_base.metadata_files] == [(None, False), (None, False)]
    # Without the base dir the node YAMLs cannot be found: the graph says so.
    unlocated = [p.split("'")[1] for p in without_base.problems if "node YAML" in p and "not located" in p]
    assert unlocated == ["nsp_neural", "thresh_cross", "sbp", "binned_spikes"]
    assert with_base.problems == []
    assert by_name(with_base.streams)["sbp"].enabled is True


# -- text and JSON forms (pure) ---------------------------------------------------------------------------


def make_catalogue() -> SessionCatalogue:
    sbp = StreamSummary(
        name="sbp",
        length=3000,
        first_id=EntryId(1_700_000_000_000, 0),
        last_id=EntryId(1_700_000_002_999, 0),
        fields=["samples", "sync", "ts"],
        entry_rate_hz=1000.0,
        approx_bytes=1_596_000,
        start_time=datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc),
        end_time=datetime(2023, 11, 14, 22, 13, 22, 999000, tzinfo=timezone.utc),
        in_graph=True,
        type_nwb="TimeSeries",
        enabled=True,
        enable_reason="node enable_nwb: true",
        keys=[KeySummary("samples", 128, 1, "float32", "sample-major", True)],
    )
    raw = StreamSummary(
        name="nsp_neural",
        in_source=False,
        in_graph=True,
        type_nwb="TimeSeries",
        enabled=False,
        enable_reason="graph enable: false",
        keys=[KeySummary("samples", 128, 30, "int16", "channel-major", False)],
        note=NOT_IN_SOURCE,
    )
    return SessionCatalogue("unix socket /tmp/r.sock", None, [raw, sbp], notes=["no graph here"])


def test_text_form():
    text = format_catalogue(make_catalogue())
    lines = text.splitlines()
    assert lines[0] == "Source: unix socket /tmp/r.sock"
    assert lines[1] == "Graph: none"
    header = lines[3]
    assert header.split() == [
        "stream",
        "type_nwb",
        "export",
        "entries",
        "rate",
        "(Hz)",
        "size",
        "start",
        "(UTC)",
        "duration",
    ]
    raw_row = lines[4].split("  ")
    assert [cell.strip() for cell in raw_row if cell.strip()] == [
        "nsp_neural",
        "TimeSeries",
        "no (graph enable: false)",
        "0",
        "-",
        "-",
        "-",
        "-",
    ]
    assert lines[5] == "    key samples: 128 ch x 30 samp, int16, channel-major, not exported (no nwb block)"
    assert lines[6] == "    note: not in the source"
    sbp_row = [cell.strip() for cell in lines[7].split("  ") if cell.strip()]
    assert sbp_row == [
        "sbp",
        "TimeSeries",
        "yes (node enable_nwb: true)",
        "3000",
        "1000",
        "~1.6 MB",
        "2023-11-14 22:13:20.000",
        "2.999 s",
    ]
    assert lines[8] == "    key samples: 128 ch x 1 samp, float32, exported"
    assert lines[9] == "    other fields: sync, ts"
    assert lines[-2:] == ["Notes:", "  - no graph here"]


def test_json_form_round_trips_through_json():
    document = json.loads(json.dumps(make_catalogue().to_dict()))
    assert document["graph"] is None
    raw, sbp = document["streams"]
    assert sbp["first_id"] == "1700000000000-0"
    assert sbp["start_time"] == "2023-11-14T22:13:20.000+00:00"
    assert sbp["duration_s"] == 2.999
    assert sbp["keys"] == [
        {
            "name": "samples",
            "chan": 128,
            "samp": 1,
            "dtype": "float32",
            "layout": "sample-major",
            "exported": True,
        }
    ]
    assert (raw["in_source"], raw["length"], raw["note"], raw["start_time"]) == (
        False,
        0,
        NOT_IN_SOURCE,
        None,
    )
    assert document["notes"] == ["no graph here"]
