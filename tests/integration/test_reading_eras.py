"""Every supergraph era and encoding the generator writes, parsed and decoded against its ground truth."""

import numpy as np
import pytest

from neuroconv_brand.errors import StreamDecodeError
from neuroconv_brand.graph.stream_specs import KeySpec, StreamSpec
from neuroconv_brand.reading.stream_reader import StreamReader
from neuroconv_brand.sources.session import BrandSession
from neuroconv_brand.testing import ERAS, SessionConfig, generate_session


def open_era(redis_server, redis_client, folder, **options):
    truth = generate_session(redis_client, SessionConfig(**{"duration_s": 3.0, "seed": 3, **options}), folder)
    session = BrandSession.open(redis_server.socket_path)
    graph = session.graph(brand_base_dir=truth.brand_base_dir)
    return truth, session, graph


def assert_stream_equals_truth(session, spec, stream_truth):
    batch = StreamReader(session.source, spec, keys=list(spec.keys), batch_size=97).read()
    np.testing.assert_array_equal(batch.ids, stream_truth.ids)
    for name in spec.keys:
        expected = stream_truth.fields[name]
        if spec.keys[name].is_text:
            assert batch.data[name].tolist() == list(expected)
        else:
            np.testing.assert_array_equal(batch.data[name], expected)
    if stream_truth.ts_ns is not None:
        np.testing.assert_array_equal(batch.monotonic_ns, stream_truth.ts_ns)
    for label, values in stream_truth.sync.items():
        present = stream_truth.sync_present[label]
        np.testing.assert_array_equal(batch.sync.present[label], present)
        np.testing.assert_array_equal(batch.sync.values[label][present], values[present])


@pytest.mark.parametrize("era", ERAS)
def test_every_era_parses_and_every_exported_stream_decodes(era, redis_server, redis_client, tmp_path):
    truth, session, graph = open_era(redis_server, redis_client, tmp_path, era=era, hazards=True)
    try:
        assert graph.era == era
        data_streams = {n for n, s in truth.streams.items() if s.role == "data" and s.type_nwb}
        assert data_streams <= set(graph.streams)
        for name in data_streams:
            spec = graph.streams[name]
            assert spec.type_nwb == truth.streams[name].type_nwb
            assert spec.exported_keys, f"{era}: stream {name} exports no key"
            assert_stream_equals_truth(session, spec, truth.streams[name])
    finally:
        session.close()


@pytest.mark.parametrize("layout", ["channel-major", "sample-major"])
def test_raw_neural_layouts_decode_time_first(layout, redis_server, redis_client, tmp_path):
    truth, session, graph = open_era(
        redis_server, redis_client, tmp_path, raw=True, raw_layout=layout, n_arrays=2
    )
    try:
        raw_name = "nsp_neural" if layout == "channel-major" else "continuousNeural"
        spec = graph.streams[raw_name]
        assert spec.keys["samples"].layout == layout
        batch = StreamReader(session.source, spec, keys=["samples"], with_sync=False).read()
        np.testing.assert_array_equal(batch.data["samples"], truth.streams[raw_name].fields["samples"])
    finally:
        session.close()


def test_pre_2022_ascii_monotonic_seconds(redis_server, redis_client, tmp_path):
    truth, session, graph = open_era(redis_server, redis_client, tmp_path, era="2022-07")
    try:
        name = next(n for n, s in truth.streams.items() if s.role == "data" and s.ts_ns is not None)
        batch = StreamReader(session.source, graph.streams[name], keys=[]).read()
        # ASCII seconds carry ~microsecond precision; the truth is in ns
        np.testing.assert_allclose(
            batch.monotonic_ns.astype(float), truth.streams[name].ts_ns.astype(float), atol=2e3
        )
    finally:
        session.close()


def test_latest_supergraph_entry_wins(redis_server, redis_client, tmp_path):
    truth, session, _ = open_era(redis_server, redis_client, tmp_path, supergraph_update=True)
    try:
        assert len(truth.supergraphs) == 2  # loadGraph + updateParameters
        assert session.supergraph() == truth.supergraphs[-1]
    finally:
        session.close()


def fill_bad_stream(client):
    good = np.arange(4, dtype=np.float32)
    client.xadd("sbp", {"samples": good.tobytes()}, id="10-0")
    client.xadd("sbp", {"samples": good[:3].tobytes()}, id="11-0")  # one channel short
    client.xadd("sbp", {"samples": (good + 1).tobytes()}, id="12-0")
    return StreamSpec("sbp", keys={"samples": KeySpec("samples", chan=4, dtype="float32", nwb={})})


def test_byte_length_mismatch_names_stream_key_entry_and_lengths(redis_server, redis_client):
    spec = fill_bad_stream(redis_client)
    with BrandSession.open(redis_server.socket_path) as session:
        message = r"stream 'sbp', entry 11-0, key 'samples': payload is 12 bytes but .* 4 x 1 x 4 = 16 bytes"
        with pytest.raises(StreamDecodeError, match=message):
            StreamReader(session.source, spec).read()


def test_byte_length_mismatch_can_be_skipped_with_a_counted_warning(redis_server, redis_client):
    spec = fill_bad_stream(redis_client)
    with BrandSession.open(redis_server.socket_path) as session:
        with pytest.warns(UserWarning, match="skipped 1 entries"):
            batch = StreamReader(session.source, spec, on_bad_entry="skip").read()
    assert batch.ids[:, 0].tolist() == [10, 12]
    np.testing.assert_array_equal(batch.data["samples"][:, 0, :], [[0, 1, 2, 3], [1, 2, 3, 4]])


def test_memory_is_bounded_by_the_batch(redis_server, redis_client):
    spec = fill_bad_stream(redis_client)
    with BrandSession.open(redis_server.socket_path) as session:
        sizes = [
            len(b)
            for b in StreamReader(session.source, spec, batch_size=1, on_bad_entry="skip").iter_batches()
        ]
    assert sizes == [1, 1]  # the bad entry's batch is empty and not yielded
