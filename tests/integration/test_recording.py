"""BrandRecordingExtractor and BrandRecordingInterface on synthetic raw sessions, against the generator's truth.

Sessions (module scope, saved as .rdb files):
- ``gem``: cerebusAdapterGem ``nsp_neural`` (channel-major int16, uint64 per-sample NSP clock), 2 x 128 channels,
  1.5 s, 7 packets dropped at 450 ms; plus streams added by hand: ``reref_neural`` (re_reference, channel-major
  float32, sync labels, no NSP clock, no graph rate) and two 4-channel streams with one bad entry each.
- ``stavisky``: sample-major ``continuousNeural`` (int64 NSP clock), 2 x 128 channels, 1.2 s, 7 packets dropped
  at 300 ms and an NSP restart at 800 ms.

Every synthetic NSP tick ``k`` is written in millisecond ``k`` of the session, and the generator's clocks all
map sample ``s`` of tick ``k`` to ``k / 1000 + s / 30000`` seconds on the session clock: that is the truth the
times are checked against.
"""

import collections
import contextlib
import copy
import gc
import json
import shutil
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import lzf
import numpy as np
import pytest
from neuroconv import ConverterPipe
from neuroconv.tools.nwb_helpers import configure_and_write_nwbfile, make_nwbfile_from_metadata
from neuroconv.tools.testing.data_interface_mixins import DataInterfaceTestMixin
from nwbinspector import Importance, inspect_nwbfile, load_config
from pynwb import NWBHDF5IO, read_nwb
from spikeinterface.core import NumpyRecording
from spikeinterface.core.testing import check_recordings_equal

from neuroconv_brand.errors import GraphError, StreamDecodeError
from neuroconv_brand.extractors import recording_index
from neuroconv_brand.extractors.raw_stream_plan import RecordingConfigurationError, gain_from_unit
from neuroconv_brand.extractors.recording_extractor import BrandRecordingExtractor
from neuroconv_brand.extractors.sorting_extractor import BrandSortingExtractor
from neuroconv_brand.graph.acquisition import find_recording_streams
from neuroconv_brand.interfaces.participant import BrandParticipantInterface
from neuroconv_brand.interfaces.recording import BrandRecordingInterface
from neuroconv_brand.interfaces.spike_times import BrandSpikeTimesInterface
from neuroconv_brand.sources.entry_ids import EntryId, parse_entry_ids
from neuroconv_brand.sources.rdb import primitives
from neuroconv_brand.sources.rdb.source import RdbStreamSource
from neuroconv_brand.sources.redis_server import EmbeddedRedisServer
from neuroconv_brand.sources.session import BrandSession
from neuroconv_brand.testing import BRAND_REDIS_CONFIG, SessionConfig, generate_session, save_session_rdb
from neuroconv_brand.timing.session_start import session_start_ms

FS = 30000.0
SAMP = 30
GAIN_UV = 0.25


@dataclass(frozen=True)
class RawSession:
    rdb_path: Path
    truth: object
    extra: dict


def ignore_gap_warning(function):
    return pytest.mark.filterwarnings("ignore:.*clock has .* gap")(function)


def _add_stream(client, name, ids, fields_per_entry):
    pipe = client.pipeline(transaction=False)
    for (ms, seq), fields in zip(ids.tolist(), fields_per_entry):
        pipe.xadd(name, fields, id=f"{ms}-{seq}")
    pipe.execute()


@pytest.fixture(scope="module")
def gem(tmp_path_factory) -> RawSession:
    folder = tmp_path_factory.mktemp("gem")
    config = SessionConfig(
        duration_s=1.5, raw=True, n_arrays=2, channels_per_array=128, task=False, dropped_packets=True, seed=3
    )
    extra = {}
    with EmbeddedRedisServer(extra_config=BRAND_REDIS_CONFIG) as server:
        client = server.client()
        truth = generate_session(client, config, folder)
        raw = truth.streams["nsp_neural"]
        samples = raw.fields["samples"]  # (n, samp, chan) logical
        tracking = raw.fields["tracking_id"].reshape(-1).astype(np.int64)

        # re_reference output: float32 channel-major, labelled with the tracking id, no NSP clock field.
        reref = (samples.astype(np.float32) * np.float32(0.5) - np.float32(3.25)).astype(np.float32)
        ts_ns = (config.monotonic_offset_ns + np.arange(len(reref)) * 1_000_000).astype("<u8")
        _add_stream(
            client,
            "reref_neural",
            raw.ids,
            (
                {
                    "samples": np.ascontiguousarray(reref[i].T).tobytes(),
                    "sync": json.dumps({"nsp_idx_1": int(tracking[i])}),
                    "ts": ts_ns[i].tobytes(),
                }
                for i in range(len(reref))
            ),
        )
        extra["reref"] = reref

        # Two small acquisition streams with one bad entry each (entry 5).
        small = samples[:20, :, :4]
        clock = raw.fields["timestamps"][:20, :, 0].astype("<u8")
        for name, broken in (("bad_samples", "samples"), ("bad_clock", "timestamps")):
            entries = []
            for i in range(20):
                fields = {
                    "samples": np.ascontiguousarray(small[i].T).astype("<i2").tobytes(),
                    "timestamps": clock[i].tobytes(),
                }
                if i == 5:
                    fields[broken] = fields[broken][:-2]
                entries.append(fields)
            _add_stream(client, name, raw.ids[:20], entries)
        extra["small"] = small

        model = copy.deepcopy(truth.supergraph)
        model["nodes"]["reref"] = {
            "name": "re_reference",
            "nickname": "reref",
            "module": "../brand-modules/brand-nsp",
            "redis_outputs": {"reref_neural": "rerefContinuousNeural"},
            "parameters": {"n_channels": 256},
        }
        model["nodes"]["nsp_small"] = {
            "name": "cerebusAdapterGem",
            "nickname": "nsp_small",
            "module": "../brand-modules/brand-nsp",
            "redis_outputs": {"bad_samples": "ContinuousNeural", "bad_clock": "ContinuousNeural"},
            "parameters": {"stream_names": ["bad_samples", "bad_clock"], "samp_freq": [30000, 30000]},
        }
        model["streams"]["reref_neural"] = {
            "enable_nwb": False,
            "type_nwb": "TimeSeries",
            "samples": {
                "chan_per_stream": 256,
                "samp_per_stream": SAMP,
                "sample_type": "float32",
                "nwb": {"unit": "0.25uV", "description": "Re-referenced broadband"},
            },
            "source_nickname": "reref",
        }
        for name in ("bad_samples", "bad_clock"):
            model["streams"][name] = {
                "enable_nwb": False,
                "type_nwb": "TimeSeries",
                "samples": {
                    "chan_per_stream": 4,
                    "samp_per_stream": SAMP,
                    "sample_type": "int16",
                    "nwb": {"unit": "uV"},
                },
                "source_nickname": "nsp_small",
            }
        client.xadd("supergraph_stream", {"data": json.dumps(model)})
        rdb_path = folder / "gem.rdb"
        server.save_rdb(rdb_path)
        client.close()
    return RawSession(rdb_path, truth, extra)


@pytest.fixture(scope="module")
def stavisky(tmp_path_factory) -> RawSession:
    folder = tmp_path_factory.mktemp("stavisky")
    config = SessionConfig(
        duration_s=1.2,
        raw=True,
        raw_layout="sample-major",
        n_arrays=2,
        channels_per_array=128,
        task=False,
        dropped_packets=True,
        dropped_packets_s=0.3,
        nsp_reset=True,
        nsp_reset_s=0.8,
        seed=4,
    )
    rdb_path = folder / "stavisky.rdb"
    return RawSession(rdb_path, save_session_rdb(config, rdb_path, folder), {})


# ----------------------------------------------------------------------------------------------- truth


def truth_runs(stream_truth, reset_tick=None):
    """Per contiguous run of NSP ticks: (entry slice, samples (t, chan), per-sample session times).

    Runs end where ticks were lost and where the NSP clock restarted (``reset_tick``).
    """
    ticks = stream_truth.entry_ticks.astype(np.int64)
    samples = stream_truth.fields["samples"]
    breaks = np.flatnonzero((np.diff(ticks) != 1) | (ticks[1:] == reset_tick)) + 1
    bounds = [0, *breaks.tolist(), len(ticks)]
    runs = []
    for first, stop in pairwise(bounds):
        times = ticks[first:stop, None] / 1000.0 + np.arange(SAMP)[None, :] / FS
        runs.append(
            (slice(first, stop), samples[first:stop].reshape(-1, samples.shape[-1]), times.reshape(-1))
        )
    return runs


def truth_recording(runs, channel_ids=None, gain=GAIN_UV):
    recording = NumpyRecording(
        [traces for _, traces, _ in runs],
        FS,
        t_starts=[times[0] for _, _, times in runs],
        channel_ids=channel_ids,
    )
    recording.set_channel_gains(gain)
    recording.set_channel_offsets(0.0)
    return recording


def assert_times(recording, runs):
    assert recording.get_num_segments() == len(runs)
    for index, (_, _, times) in enumerate(runs):
        np.testing.assert_allclose(recording.get_times(segment_index=index), times, rtol=0, atol=1e-9)


def stavisky_runs(session):
    return truth_runs(session.truth.streams["continuousNeural"], session.truth.hazards.nsp_reset_tick)


# ----------------------------------------------------------------------------------- the extractor


@ignore_gap_warning
def test_gem_channel_major_samples_channels_gain_and_segments(gem):
    recording = BrandRecordingExtractor(gem.rdb_path, "nsp_neural")
    raw = gem.truth.streams["nsp_neural"]
    runs = truth_runs(raw)
    assert len(runs) == 2  # the dropped packets split the session
    assert recording.session_start_ms == gem.truth.config.start_time_ms
    assert recording.get_sampling_frequency() == FS  # cerebusAdapterGem's samp_freq parameter
    assert recording.get_dtype() == np.int16
    np.testing.assert_array_equal(recording.get_channel_ids(), np.arange(256))
    np.testing.assert_array_equal(recording.get_channel_gains(), np.full(256, GAIN_UV))
    assert recording.timing == "nsp"
    check_recordings_equal(recording, truth_recording(runs), return_in_uV=False)
    check_recordings_equal(recording, truth_recording(runs), return_in_uV=True)
    assert_times(recording, runs)
    np.testing.assert_array_equal(recording.entry_ids, raw.ids)


def test_gem_gap_is_reported_with_its_location(gem):
    with pytest.warns(
        UserWarning, match=r"the nsp clock has 1 gap\(s\) \(210 samples lost\) and 0 reset\(s\)"
    ):
        recording = BrandRecordingExtractor(gem.rdb_path, "nsp_neural")
    first_tick, lost = gem.truth.hazards.dropped_ticks
    (gap,) = recording.gaps
    assert (gap.kind, gap.sample_index, gap.segment_index, gap.missing_samples) == (
        "gap",
        first_tick * SAMP,
        1,
        lost * SAMP,
    )
    assert gap.previous_end_s == pytest.approx(first_tick / 1000 - 1 / FS, abs=1e-9)
    assert gap.next_start_s == pytest.approx((first_tick + lost) / 1000, abs=1e-9)
    assert gap.entry_id == str(gem.truth.streams["nsp_neural"].entry_id(first_tick))


@ignore_gap_warning
def test_stavisky_sample_major_with_gap_and_nsp_restart(stavisky):
    recording = BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural")
    runs = stavisky_runs(stavisky)
    assert len(runs) == 3  # gap at 300 ms, restart at 800 ms
    assert [gap.kind for gap in recording.gaps] == ["gap", "reset"]
    assert recording.gaps[1].sample_index == (800 - 7) * SAMP
    assert recording.gaps[1].missing_samples is None
    check_recordings_equal(recording, truth_recording(runs), return_in_uV=True)
    # Each clock epoch gets its own offset, so time runs on across the restart.
    assert_times(recording, runs)


@ignore_gap_warning
def test_explicit_timestamps_mode_is_one_segment_with_every_time(stavisky):
    recording = BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural", gaps="timestamps")
    runs = stavisky_runs(stavisky)
    assert recording.get_num_segments() == 1
    assert recording.has_time_vector(0)
    np.testing.assert_allclose(
        recording.get_times(0), np.concatenate([t for *_, t in runs]), rtol=0, atol=1e-9
    )
    np.testing.assert_array_equal(recording.get_traces(), np.concatenate([s for _, s, _ in runs]))
    assert [gap.segment_index for gap in recording.gaps] == [0, 0]


@ignore_gap_warning
def test_lazy_windows_across_entry_boundaries_and_channel_subsets(gem):
    recording = BrandRecordingExtractor(gem.rdb_path, "nsp_neural")
    _, traces, _ = truth_runs(gem.truth.streams["nsp_neural"])[1]
    rng = np.random.default_rng(0)
    held = []
    for _ in range(12):
        start = int(rng.integers(0, len(traces) - 1))
        stop = int(rng.integers(start, min(len(traces), start + 4000)))
        channels = np.sort(rng.choice(256, size=int(rng.integers(1, 40)), replace=False))
        got = recording.get_traces(segment_index=1, start_frame=start, end_frame=stop, channel_ids=channels)
        np.testing.assert_array_equal(got, traces[start:stop][:, channels])
        held.append((recording.get_traces(segment_index=1, start_frame=start, end_frame=stop), start, stop))
    for got, start, stop in held:  # every read is its own array: later reads do not change earlier ones
        np.testing.assert_array_equal(got, traces[start:stop])
    assert recording.get_traces(segment_index=1, start_frame=7, end_frame=7).shape == (0, 256)
    got = recording.get_traces(segment_index=1, start_frame=0, end_frame=31)
    got[0, 0] = ~got[0, 0]  # the caller may write into what it got: the recording is unchanged
    np.testing.assert_array_equal(
        recording.get_traces(segment_index=1, start_frame=0, end_frame=31), traces[:31]
    )


@ignore_gap_warning
def test_float32_filtered_stream_timed_by_its_entries(gem):
    with pytest.raises(GraphError, match=r"no sampling rate .* pass sampling_frequency="):
        BrandRecordingExtractor(gem.rdb_path, "reref_neural")
    recording = BrandRecordingExtractor(gem.rdb_path, "reref_neural", sampling_frequency=FS)
    assert (
        recording.timing == "entries"
    )  # no NSP clock field: the sync label (tracking id) stamps the entries
    assert recording.get_dtype() == np.float32
    assert recording.get_annotation("is_filtered")
    reref = gem.extra["reref"]
    runs = [
        (entries, reref[entries].reshape(-1, 256), times)
        for entries, _, times in truth_runs(gem.truth.streams["nsp_neural"])
    ]
    check_recordings_equal(recording, truth_recording(runs), return_in_uV=True)
    assert_times(recording, runs)
    assert [(g.kind, g.missing_samples) for g in recording.gaps] == [("gap", 7 * SAMP)]


@ignore_gap_warning
def test_timing_nsp_needs_the_clock_field(gem):
    with pytest.raises(
        StreamDecodeError, match=r"stream 'reref_neural', entry \d+-\d+: no field 'timestamps'"
    ):
        BrandRecordingExtractor(gem.rdb_path, "reref_neural", sampling_frequency=FS, timing="nsp")


@ignore_gap_warning
def test_entry_timing_of_a_stream_with_nsp_clock_gives_the_same_times(gem):
    # cerebusAdapterGem writes no sync field: the sync clock falls back to the Redis ids, with a warning.
    with pytest.warns(UserWarning, match=r"stream 'nsp_neural': 1493 entries lack the sync clock's field"):
        recording = BrandRecordingExtractor(gem.rdb_path, "nsp_neural", timing="entries")
    runs = truth_runs(gem.truth.streams["nsp_neural"])
    # Redis ids have millisecond resolution and the synthetic NSP writes tick k in millisecond k.
    assert_times(recording, runs)


@ignore_gap_warning
def test_graph_rate_gives_the_sampling_frequency_and_units_give_the_gain(gem):
    with pytest.raises(GraphError, match=r"unit '\(0.25uV\)\^2' .* is not a voltage .* pass gain_to_uv="):
        BrandRecordingExtractor(gem.rdb_path, "sbp")
    recording = BrandRecordingExtractor(gem.rdb_path, "sbp", gain_to_uv=2.0)
    assert recording.get_sampling_frequency() == 1000.0  # graph rate x samp_per_stream (1)
    assert recording.get_dtype() == np.float32
    np.testing.assert_array_equal(recording.get_channel_gains(), np.full(256, 2.0))
    sbp = gem.truth.streams["sbp"]
    ticks = sbp.entry_ticks
    bounds = [0, *(np.flatnonzero(np.diff(ticks) != 1) + 1).tolist(), len(ticks)]
    assert recording.get_num_segments() == len(bounds) - 1 == 2
    for index, (first, stop) in enumerate(pairwise(bounds)):
        values = sbp.fields["samples"][first:stop, 0, :]
        np.testing.assert_array_equal(recording.get_traces(segment_index=index), values)
        np.testing.assert_allclose(
            recording.get_times(segment_index=index), ticks[first:stop] / 1000.0, atol=1e-9
        )


@pytest.mark.parametrize(
    ("unit", "gain"),
    [
        ("0.25uV", 0.25),
        ("uV", 1.0),
        ("0.1 mV", 100.0),
        ("1e-7V", 0.1),
        ("250 nV", 0.25),
        ("spikes", None),
        (None, None),
    ],
)
def test_gain_from_unit(unit, gain):
    assert gain_from_unit(unit) == (pytest.approx(gain) if gain is not None else None)


@ignore_gap_warning
def test_channel_map_list_and_stavisky_json(gem, tmp_path):
    reversed_map = list(range(255, -1, -1))
    recording = BrandRecordingExtractor(gem.rdb_path, "nsp_neural", channel_map=reversed_map)
    np.testing.assert_array_equal(recording.get_channel_ids(), reversed_map)
    _, traces, _ = truth_runs(gem.truth.streams["nsp_neural"])[0]
    # Columns stay in stream order; the ids say which electrode each one is.
    np.testing.assert_array_equal(
        recording.get_traces(segment_index=0, channel_ids=[255, 0]), traces[:, [0, 255]]
    )
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"electrode_mapping": [e + 1 for e in reversed_map]}))
    from_file = BrandRecordingExtractor(gem.rdb_path, "nsp_neural", channel_map=str(path))
    np.testing.assert_array_equal(from_file.get_channel_ids(), reversed_map)


@pytest.mark.parametrize(
    ("channel_map", "message"),
    [
        (list(range(255)), r"has 255 entries but the stream has 256 channels"),
        ([0] * 256, r"assigns electrode\(s\) \[0\] to several channels"),
        ([-1, *range(255)], r"electrode numbers below 0"),
        ("missing.json", r"cannot read the channel map"),
    ],
)
def test_bad_channel_maps(gem, channel_map, message):
    with pytest.raises(RecordingConfigurationError, match=message):
        BrandRecordingExtractor(gem.rdb_path, "nsp_neural", channel_map=channel_map)


def test_bad_options(gem):
    with pytest.raises(RecordingConfigurationError, match=r"timing must be one of"):
        BrandRecordingExtractor(gem.rdb_path, "nsp_neural", timing="ntp")
    with pytest.raises(RecordingConfigurationError, match=r"clock rate 45000.0 Hz is not a whole multiple"):
        BrandRecordingExtractor(gem.rdb_path, "nsp_neural", timestamps_rate=45000.0)
    with pytest.raises(RecordingConfigurationError, match=r"sampling_frequency must be positive"):
        BrandRecordingExtractor(gem.rdb_path, "nsp_neural", sampling_frequency=-1.0)
    with pytest.raises(
        GraphError, match=r"stream 'nope' is not in the graph; streams the graph knows: .*nsp_neural"
    ):
        BrandRecordingExtractor(gem.rdb_path, "nope")
    with pytest.raises(GraphError, match=r"stream 'nsp_neural' declares no key 'data' \(declared: samples\)"):
        BrandRecordingExtractor(gem.rdb_path, "nsp_neural", key="data")


@pytest.mark.parametrize(("stream", "key"), [("bad_samples", "samples"), ("bad_clock", "timestamps")])
def test_bad_entry_raises_naming_stream_key_and_entry(gem, stream, key):
    entry = gem.truth.streams["nsp_neural"].entry_id(5)
    with pytest.raises(
        StreamDecodeError, match=rf"stream '{stream}', entry {entry}, key '{key}': payload is \d+ bytes"
    ):
        BrandRecordingExtractor(gem.rdb_path, stream)


@ignore_gap_warning
@pytest.mark.parametrize("stream", ["bad_samples", "bad_clock"])
def test_bad_entry_skipped_becomes_a_reported_gap(gem, stream):
    with pytest.warns(UserWarning, match=r"left out 1 entries whose payload did not match"):
        recording = BrandRecordingExtractor(gem.rdb_path, stream, on_bad_entry="skip")
    assert [(g.kind, g.sample_index, g.missing_samples) for g in recording.gaps] == [("gap", 5 * SAMP, SAMP)]
    small = gem.extra["small"]
    for _ in range(2):  # the second read decodes the entries again, leaving out the bad one again
        np.testing.assert_array_equal(recording.get_traces(segment_index=0), small[:5].reshape(-1, 4))
        np.testing.assert_array_equal(recording.get_traces(segment_index=1), small[6:].reshape(-1, 4))
    assert recording._index.samples.released_rows == recording._index.samples.rows
    np.testing.assert_allclose(recording.get_times(segment_index=1)[0], 0.006, atol=1e-9)


# ------------------------------------------------------------------------------------ the interface


@ignore_gap_warning
def test_interface_writes_one_electrical_series_per_segment(gem, tmp_path):
    interface = BrandRecordingInterface(file_path=gem.rdb_path, stream_name="nsp_neural")
    path = tmp_path / "raw.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    nwbfile = read_nwb(path)
    runs = truth_runs(gem.truth.streams["nsp_neural"])
    assert sorted(nwbfile.acquisition) == ["nsp_neural_samples_segment0", "nsp_neural_samples_segment1"]
    for index, (_, traces, times) in enumerate(runs):
        series = nwbfile.acquisition[f"nsp_neural_samples_segment{index}"]
        np.testing.assert_array_equal(series.data[:], traces)
        assert series.data.dtype == np.int16
        assert series.conversion == pytest.approx(GAIN_UV * 1e-6)
        assert series.offset == 0.0
        assert series.rate == FS and series.timestamps is None
        assert series.starting_time == pytest.approx(times[0], abs=1e-9)
        np.testing.assert_array_equal(series.electrodes.data[:], np.arange(256))
        assert series.comments == (
            "BRAND stream 'nsp_neural', key 'samples'; timing: nsp; sampling frequency: 30000.0 Hz; segments: 2; "
            "gaps: 1 (also in invalid_times): gap at sample 13500 (entry 1700000000457-0): 210 samples missing "
            "between 0.449967 s and 0.457000 s."
        )
    assert len(nwbfile.electrodes) == 256
    invalid = nwbfile.invalid_times.to_dataframe()
    np.testing.assert_allclose(invalid[["start_time", "stop_time"]].values, [[0.450, 0.457]], atol=1e-9)
    assert list(invalid["tags"].iloc[0]) == ["nsp_neural", "dropped samples"]


@ignore_gap_warning
def test_interface_sample_major_segments_across_gap_and_restart(stavisky, tmp_path):
    interface = BrandRecordingInterface(file_path=stavisky.rdb_path, stream_name="continuousNeural")
    path = tmp_path / "stavisky.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    nwbfile = read_nwb(path)
    for index, (_, traces, times) in enumerate(stavisky_runs(stavisky)):
        series = nwbfile.acquisition[f"continuousNeural_samples_segment{index}"]
        np.testing.assert_array_equal(series.data[:], traces)
        assert series.starting_time == pytest.approx(times[0], abs=1e-9) and series.rate == FS
        assert series.conversion == pytest.approx(GAIN_UV * 1e-6)
    # The 7 lost packets are invalid; the restart lost nothing, so it leaves no interval.
    invalid = nwbfile.invalid_times.to_dataframe()
    np.testing.assert_allclose(invalid[["start_time", "stop_time"]].values, [[0.300, 0.307]], atol=1e-9)


def _participant_like_electrodes(nwbfile, channel_names):
    device = nwbfile.create_device(name="NeuroPort", description="Utah array")
    for array in (1, 2):
        nwbfile.create_electrode_group(
            name=f"array {array}", description="Utah array", location="precentral gyrus", device=device
        )
    if channel_names is not None:
        nwbfile.add_electrode_column(name="channel_name", description="electrode reference")
    for electrode in range(256):
        kwargs = dict(
            group=nwbfile.electrode_groups[f"array {electrode // 128 + 1}"], location="precentral gyrus"
        )
        if channel_names is not None:
            kwargs["channel_name"] = channel_names(electrode)
        nwbfile.add_electrode(**kwargs)


@ignore_gap_warning
@pytest.mark.parametrize(
    "channel_names",
    [lambda e: str(e), lambda e: str(e % 128), None],
    ids=["global-names", "names-per-array", "no-names"],
)
def test_interface_links_to_the_participant_electrodes_without_duplicates(gem, tmp_path, channel_names):
    electrode_map = [*range(128, 256), *range(127, -1, -1)]  # arrays swapped, the first one reversed
    interface = BrandRecordingInterface(
        file_path=gem.rdb_path, stream_name="nsp_neural", channel_map=electrode_map
    )
    metadata = interface.get_metadata()
    nwbfile = make_nwbfile_from_metadata(metadata)
    _participant_like_electrodes(nwbfile, channel_names)
    interface.add_to_nwbfile(nwbfile, metadata)
    path = tmp_path / "linked.nwb"
    configure_and_write_nwbfile(nwbfile, nwbfile_path=path, backend="hdf5")

    written = read_nwb(path)
    assert len(written.electrodes) == 256 and sorted(written.electrode_groups) == ["array 1", "array 2"]
    series = written.acquisition["nsp_neural_samples_segment0"]
    np.testing.assert_array_equal(series.electrodes.data[:], electrode_map)
    groups = written.electrodes["group_name"].data[:]
    assert [groups[row] for row in series.electrodes.data[[0, 127, 128, 255]]] == [
        "array 2",
        "array 2",
        "array 1",
        "array 1",
    ]
    _, traces, _ = truth_runs(gem.truth.streams["nsp_neural"])[0]
    np.testing.assert_array_equal(series.data[:], traces)  # columns in stream order


@ignore_gap_warning
def test_with_the_participant_interface_the_series_uses_its_electrodes(gem, tmp_path):
    participant = BrandParticipantInterface(
        participant_file=gem.truth.participant_file,
        devices_file=gem.truth.devices_file,
        file_path=gem.rdb_path,
    )
    electrode_map = [*range(128, 256), *range(128)]
    recording = BrandRecordingInterface(
        file_path=gem.rdb_path, stream_name="nsp_neural", channel_map=electrode_map
    )
    converter = ConverterPipe(data_interfaces={"Participant": participant, "Raw": recording})
    metadata = converter.get_metadata()
    metadata["Subject"].update(species="Homo sapiens", sex="M", age="P40Y")
    path = tmp_path / "session.nwb"
    converter.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True)

    nwbfile = read_nwb(path)
    electrodes = nwbfile.electrodes.to_dataframe()
    assert len(electrodes) == 256  # the participant's rows, none added
    assert sorted(nwbfile.electrode_groups) == [e.implant for e in gem.truth.electrodes[::128]]
    series = nwbfile.acquisition["nsp_neural_samples_segment0"]
    np.testing.assert_array_equal(series.electrodes.data[:], electrode_map)
    rows = series.electrodes.data[:]
    assert list(electrodes["group_name"].iloc[rows[[0, 128]]]) == [
        gem.truth.electrodes[128].implant,
        gem.truth.electrodes[0].implant,
    ]
    assert list(electrodes["location"].iloc[rows[[0, 128]]]) == [
        gem.truth.electrodes[128].location,
        gem.truth.electrodes[0].location,
    ]


@ignore_gap_warning
def test_electrodes_table_too_small_for_the_channels(gem):
    interface = BrandRecordingInterface(file_path=gem.rdb_path, stream_name="nsp_neural")
    metadata = interface.get_metadata()
    nwbfile = make_nwbfile_from_metadata(metadata)
    device = nwbfile.create_device(name="NeuroPort")
    group = nwbfile.create_electrode_group(name="array 1", description="d", location="l", device=device)
    nwbfile.add_electrode_column(name="channel_name", description="electrode reference")
    for electrode in range(128):
        nwbfile.add_electrode(group=group, location="l", channel_name=f"e{electrode}")
    with pytest.raises(
        RecordingConfigurationError,
        match=r"electrode\(s\) \[128, 129, 130, 131, 132\] but the electrodes table has 128 rows",
    ):
        interface.add_to_nwbfile(nwbfile, metadata)


@ignore_gap_warning
def test_raw_streams_are_found_in_the_graph(gem, stavisky):
    recording = BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural")
    assert find_recording_streams(recording.graph) == ["continuousNeural"]
    graph = BrandRecordingExtractor(gem.rdb_path, "nsp_neural").graph
    assert find_recording_streams(graph, {"nsp_neural", "bad_clock"}) == ["nsp_neural", "bad_clock"]


@ignore_gap_warning
def test_filtered_stream_goes_to_processing_ecephys(gem, tmp_path):
    interface = BrandRecordingInterface(
        file_path=gem.rdb_path, stream_name="reref_neural", sampling_frequency=FS
    )
    path = tmp_path / "reref.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    processed = read_nwb(path).processing["ecephys"]["Processed"]
    series = processed.electrical_series["reref_neural_samples_segment1"]
    reref = gem.extra["reref"]
    entries, _, times = truth_runs(gem.truth.streams["nsp_neural"])[1]
    np.testing.assert_array_equal(series.data[:], reref[entries].reshape(-1, 256))
    assert series.data.dtype == np.float32 and series.starting_time == pytest.approx(times[0], abs=1e-9)


@ignore_gap_warning
def test_interface_explicit_timestamps_mode_writes_one_series(stavisky, tmp_path):
    interface = BrandRecordingInterface(
        file_path=stavisky.rdb_path, stream_name="continuousNeural", gaps="timestamps"
    )
    path = tmp_path / "timestamps.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True)
    series = read_nwb(path).acquisition["continuousNeural_samples"]
    runs = stavisky_runs(stavisky)
    np.testing.assert_allclose(series.timestamps[:], np.concatenate([t for *_, t in runs]), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(series.data[:], np.concatenate([s for _, s, _ in runs]))


@ignore_gap_warning
def test_stub_writes_the_first_samples_of_each_segment(stavisky, tmp_path):
    interface = BrandRecordingInterface(file_path=stavisky.rdb_path, stream_name="continuousNeural")
    path = tmp_path / "stub.nwb"
    interface.run_conversion(nwbfile_path=path, overwrite=True, stub_test=True)
    acquisition = read_nwb(path).acquisition
    runs = stavisky_runs(stavisky)
    for index, (_, traces, _) in enumerate(runs):
        np.testing.assert_array_equal(
            acquisition[f"continuousNeural_samples_segment{index}"].data[:], traces[:100]
        )


@ignore_gap_warning
def test_nwbinspector_finds_nothing_serious(gem, tmp_path):
    interface = BrandRecordingInterface(file_path=gem.rdb_path, stream_name="nsp_neural")
    metadata = interface.get_metadata()
    metadata["Subject"] = dict(subject_id="t0", species="Homo sapiens", sex="M", age="P40Y")
    path = tmp_path / "inspect.nwb"
    interface.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True)
    messages = list(
        inspect_nwbfile(
            path, config=load_config("dandi"), importance_threshold=Importance.BEST_PRACTICE_VIOLATION
        )
    )
    assert messages == []


@pytest.mark.filterwarnings("ignore:.*clock has .* gap")
class TestRecordingInterfaceMixin(DataInterfaceTestMixin):
    data_interface_cls = BrandRecordingInterface
    interface_kwargs = {}

    @pytest.fixture
    def setup_interface(self, request, stavisky):
        self.test_name = ""
        self.interface_kwargs = dict(file_path=str(stavisky.rdb_path), stream_name="continuousNeural")
        self.interface = self.data_interface_cls(**self.interface_kwargs)
        return self.interface, self.test_name

    def check_read_nwb(self, nwbfile_path: str):
        acquisition = read_nwb(nwbfile_path).acquisition
        assert [acquisition[f"continuousNeural_samples_segment{i}"].data.shape for i in range(3)] == [
            (300 * SAMP, 256),
            ((800 - 307) * SAMP, 256),
            (400 * SAMP, 256),
        ]


# ---------------------------------------------------------------------------------- the sorting


def test_threshold_crossings_as_a_sorting(gem):
    sorting = BrandSortingExtractor(gem.rdb_path, "thresh_cross")
    stream = gem.truth.streams["thresh_cross"]
    assert sorting.get_sampling_frequency() == 1000.0  # the graph's entry rate
    np.testing.assert_array_equal(sorting.get_unit_ids(), np.arange(256))
    spike_entries = gem.truth.spike_entries("thresh_cross")
    assert sum(map(len, spike_entries)) > 1000
    for channel in (0, 17, 255):
        # Entry k is NSP tick entry_ticks[k], at entry_ticks[k] ms of the session: the frame, across the gap.
        expected = stream.entry_ticks[spike_entries[channel]]
        np.testing.assert_array_equal(sorting.get_unit_spike_train(channel), expected)
        np.testing.assert_allclose(
            sorting.get_unit_spike_train_in_seconds(channel), expected / 1000.0, atol=1e-9
        )
    late = sorting.get_unit_spike_train(17, start_frame=1000, end_frame=1200)
    np.testing.assert_array_equal(
        late, [f for f in stream.entry_ticks[spike_entries[17]] if 1000 <= f < 1200]
    )


def test_sorting_unit_ids_and_key_errors(gem):
    sorting = BrandSortingExtractor(gem.rdb_path, "thresh_cross", unit_ids=list(range(1000, 1256)))
    assert sorting.get_unit_ids()[[0, -1]].tolist() == [1000, 1255]
    with pytest.raises(RecordingConfigurationError, match=r"unit_ids must be 256 distinct numbers"):
        BrandSortingExtractor(gem.rdb_path, "thresh_cross", unit_ids=[1, 2])
    with pytest.raises(GraphError) as error:
        BrandSortingExtractor(gem.rdb_path, "thresh_cross", key="spikes")
    assert str(error.value) == (
        "stream 'thresh_cross' declares no key 'spikes' (declared: crossings); pass key= with the field that holds "
        "the crossings."
    )


def split_session(folder: Path, change_graph=None) -> tuple[Path, object]:
    """Two 8-channel arrays, one ``thresh_cross_<a>`` stream each; ``change_graph(model)`` edits the graph."""
    config = SessionConfig(
        duration_s=0.5, n_arrays=2, channels_per_array=8, split_arrays=True, task=False, seed=5
    )

    def publish(client, truth):  # an updateParameters-style new supergraph entry (readers use the latest)
        model = copy.deepcopy(truth.supergraph)
        change_graph(model)
        client.xadd("supergraph_stream", {"data": json.dumps(model)})

    rdb = folder / "split.rdb"
    return rdb, save_session_rdb(config, rdb, folder, before_save=publish if change_graph else None)


@dataclass(frozen=True)
class UnitsTable:
    stream: np.ndarray  # of each unit
    electrode: np.ndarray  # row of each unit
    spike_times: list[np.ndarray]


def converted_units(rdb: Path, truth, streams: list[str], path: Path) -> UnitsTable:
    """The units table of a conversion of ``streams`` with the participant's electrodes, read back."""
    participant = BrandParticipantInterface(
        participant_file=truth.participant_file, devices_file=truth.devices_file, file_path=rdb
    )
    spikes = {stream: BrandSpikeTimesInterface(file_path=rdb, stream_name=stream) for stream in streams}
    converter = ConverterPipe(data_interfaces={"Participant": participant, **spikes})
    metadata = converter.get_metadata()
    metadata["Subject"].update(species="Homo sapiens", sex="M", age="P40Y")
    converter.run_conversion(nwbfile_path=path, metadata=metadata, overwrite=True)
    with NWBHDF5IO(path, "r") as io:
        units = io.read().units
        return UnitsTable(
            np.asarray(units["stream"].data[:]).astype(str),
            np.asarray(units["electrodes"].target.data[:]),
            [np.asarray(units["spike_times"][row]) for row in range(len(units))],
        )


def assert_sorting_is_the_units_table(rdb: Path, streams: list[str], units: UnitsTable) -> None:
    """Each stream's sorting has the units table's units: ids = electrode rows, same spike times."""
    for stream in streams:
        sorting = BrandSortingExtractor(rdb, stream)
        rows = np.flatnonzero(units.stream == stream)
        np.testing.assert_array_equal(sorting.get_unit_ids(), units.electrode[rows])
        for row, unit_id in zip(rows, sorting.get_unit_ids()):
            np.testing.assert_allclose(
                sorting.get_unit_spike_train_in_seconds(unit_id), units.spike_times[row], atol=1e-9
            )


@ignore_gap_warning
def test_sorting_units_are_the_units_table_of_a_conversion(gem, tmp_path):
    units = converted_units(gem.rdb_path, gem.truth, ["thresh_cross"], tmp_path / "units.nwb")
    assert units.electrode.tolist() == list(range(256))
    assert_sorting_is_the_units_table(gem.rdb_path, ["thresh_cross"], units)


def test_per_array_stream_units_are_numbered_by_the_node_channel_range(tmp_path):
    rdb, truth = split_session(tmp_path)
    sorting = BrandSortingExtractor(rdb, "thresh_cross_2")
    np.testing.assert_array_equal(sorting.get_unit_ids(), np.arange(8, 16))  # nsp_all_2's neural_ch_range
    stream = truth.streams["thresh_cross_2"]
    spike_entries = truth.spike_entries("thresh_cross_2")
    np.testing.assert_array_equal(sorting.get_unit_spike_train(8), stream.entry_ticks[spike_entries[0]])
    streams = ["thresh_cross_1", "thresh_cross_2"]
    assert_sorting_is_the_units_table(
        rdb, streams, converted_units(rdb, truth, streams, tmp_path / "units.nwb")
    )


def test_sorting_places_a_node_channel_range_within_its_input_stream(tmp_path):
    # Each nsp_all node reads its own 8-channel input stream of a two-stream acquisition node, with
    # neural_ch_range [0, 8] of that input: thresh_cross_2's channels are electrodes 8..15, not 0..7.
    def two_inputs(model):
        model["nodes"]["nsp_in"]["parameters"].update(
            stream_names=["nsp_neural_1", "nsp_neural_2"], chan_per_stream=[8, 8]
        )
        for array in (1, 2):
            model["nodes"][f"nsp_all_{array}"]["parameters"].update(
                input_stream=f"nsp_neural_{array}", neural_ch_range=[0, 8]
            )

    rdb, truth = split_session(tmp_path, two_inputs)
    assert BrandSortingExtractor(rdb, "thresh_cross_2").get_unit_ids().tolist() == list(range(8, 16))
    streams = ["thresh_cross_1", "thresh_cross_2"]
    assert_sorting_is_the_units_table(
        rdb, streams, converted_units(rdb, truth, streams, tmp_path / "units.nwb")
    )


def test_sorting_numbers_units_by_channel_when_the_graph_names_no_crossings_key(tmp_path):
    def unnamed(model):
        model["streams"]["thresh_cross_2"]["crossings"]["nwb"] = {"description": "crossings, not named"}

    rdb, truth = split_session(tmp_path, unnamed)
    with pytest.warns(UserWarning) as caught:
        sorting = BrandSortingExtractor(rdb, "thresh_cross_2")  # the only exported numeric key
    assert [str(warning.message) for warning in caught if warning.category is UserWarning] == [
        "stream 'thresh_cross_2': the electrode of each channel cannot be determined (stream 'thresh_cross_2' "
        "(SpikeTimes): no key's nwb block names the crossings key (nwb: {crossings: <key>}); add it to the node "
        "YAML); unit ids are the channel indices 0..7. Pass unit_ids= with the electrode of each channel."
    ]
    assert sorting.get_unit_ids().tolist() == list(range(8))
    spike_entries = truth.spike_entries("thresh_cross_2")
    np.testing.assert_array_equal(
        sorting.get_unit_spike_train(3), truth.streams["thresh_cross_2"].entry_ticks[spike_entries[3]]
    )
    assert BrandSortingExtractor(rdb, "thresh_cross_2", unit_ids=list(range(8, 16))).get_unit_ids()[0] == 8


def test_sorting_stream_and_key_errors(tmp_path):
    def two_numeric_keys(model):
        model["streams"]["thresh_cross_2"]["crossings"]["nwb"] = {"description": "crossings, not named"}
        model["streams"]["thresh_cross_2"]["note"] = {
            "chan_per_stream": 1,
            "samp_per_stream": 1,
            "sample_type": "str",
            "nwb": {},
        }
        model["streams"]["thresh_cross_1"]["count"] = {
            "chan_per_stream": 1,
            "samp_per_stream": 1,
            "sample_type": "int16",
            "nwb": {},
        }
        model["streams"]["thresh_cross_1"]["crossings"]["nwb"] = {"description": "crossings, not named"}

    rdb, _ = split_session(tmp_path, two_numeric_keys)
    with pytest.raises(GraphError) as error:
        BrandSortingExtractor(rdb, "nope")
    assert str(error.value).startswith(
        "stream 'nope' is not in the graph; streams the graph knows: binned_spikes, "
    )
    with pytest.raises(GraphError) as error:
        BrandSortingExtractor(rdb, "nsp_neural")
    assert str(error.value) == (
        f"stream 'nsp_neural' is defined in the graph but absent from {rdb.resolve()} (flushed before saving?)."
    )
    with pytest.raises(GraphError) as error:
        BrandSortingExtractor(rdb, "thresh_cross_1")
    assert str(error.value) == (
        "stream 'thresh_cross_1': no key's nwb block names the crossings key (nwb: {crossings: <key>}) and the "
        "stream exports 2 numeric keys (crossings, count), not one; pass key= with the field that holds the "
        "crossings (declared: crossings, count)."
    )
    with pytest.warns(UserWarning, match="unit ids are the channel indices 0..7"):
        assert len(BrandSortingExtractor(rdb, "thresh_cross_1", key="crossings").get_unit_ids()) == 8
    with pytest.raises(GraphError) as error:
        BrandSortingExtractor(rdb, "thresh_cross_2", key="note")
    assert str(error.value) == (
        "stream 'thresh_cross_2', key 'note': crossings must be numeric, the definition says str."
    )


# ------------------------------------------------------------------------- one pass, in parallel


@pytest.fixture
def open_source():
    """``open_source(session, kind)``: the session's ``.rdb`` path, or a live redis-server loaded from it."""
    with contextlib.ExitStack() as stack:

        def open_(session: RawSession, kind: str) -> str:
            if kind == "rdb":
                return str(session.rdb_path)
            return stack.enter_context(EmbeddedRedisServer(session.rdb_path)).socket_path

        yield open_


@pytest.fixture
def fresh_stavisky(stavisky, tmp_path) -> RawSession:
    """The stavisky session in a file of its own, which no other test's extractor holds open.

    Extractors of a stream with the same settings share its index while one of them is alive (the interface tests'
    NeuroConv mixins keep theirs until the end of the run), so tests that count passes read their own copy.
    """
    copy = tmp_path / "stavisky.rdb"
    shutil.copyfile(stavisky.rdb_path, copy)
    return replace(stavisky, rdb_path=copy)


@ignore_gap_warning
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("kind", ["rdb", "live"])
def test_read_in_id_ranges_side_by_side_gives_the_truth(gem, fresh_stavisky, open_source, kind, workers):
    stavisky = fresh_stavisky
    # Sample-major int16 with a gap and an NSP restart, as segments and as one time vector.
    source = open_source(stavisky, kind)
    runs = stavisky_runs(stavisky)
    recording = BrandRecordingExtractor(source, "continuousNeural", read_workers=workers)
    assert len(recording._index.samples.spool.parts) == workers  # one spool file per id range
    check_recordings_equal(recording, truth_recording(runs), return_in_uV=False)
    assert_times(recording, runs)
    assert [gap.kind for gap in recording.gaps] == ["gap", "reset"]
    one = BrandRecordingExtractor(source, "continuousNeural", gaps="timestamps", read_workers=workers)
    np.testing.assert_allclose(one.get_times(0), np.concatenate([t for *_, t in runs]), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(one.get_traces(), np.concatenate([s for _, s, _ in runs]))
    # Channel-major int16 with its NSP clock, and float32 timed by its entries (sync labels).
    source = open_source(gem, kind)
    gem_runs = truth_runs(gem.truth.streams["nsp_neural"])
    nsp = BrandRecordingExtractor(source, "nsp_neural", read_workers=workers)
    check_recordings_equal(nsp, truth_recording(gem_runs), return_in_uV=False)
    assert_times(nsp, gem_runs)
    reref = BrandRecordingExtractor(source, "reref_neural", sampling_frequency=FS, read_workers=workers)
    expected = [
        (entries, gem.extra["reref"][entries].reshape(-1, 256), times) for entries, _, times in gem_runs
    ]
    check_recordings_equal(reref, truth_recording(expected), return_in_uV=False)
    assert_times(reref, expected)
    # Frame ranges that cross the boundary between two id ranges' files, with a channel subset.
    _, traces, _ = gem_runs[1]
    boundary = int(nsp._index.samples.spool.starts[-2]) - gem_runs[1][0].start * SAMP
    assert workers == 1 or 0 < boundary < len(traces)  # the second file starts inside segment 1
    boundary = min(max(boundary, 45), len(traces) - 45)
    for start, stop in ((0, len(traces)), (boundary - 45, boundary + 45), (boundary, boundary + 1)):
        got = nsp.get_traces(segment_index=1, start_frame=start, end_frame=stop, channel_ids=[3, 200, 7])
        np.testing.assert_array_equal(got, traces[start:stop][:, [3, 200, 7]])


@ignore_gap_warning
@pytest.mark.filterwarnings("ignore:.*lack the sync clock's field")
@pytest.mark.parametrize("timing", ["nsp", "entries"])
def test_each_node_is_decompressed_once(fresh_stavisky, monkeypatch, timing):
    """The index and the samples come from one decode of each LZF-compressed node; get_traces decodes nothing.

    With the entry clock the session's clock fit shares the pass's timeline instead of reading the stream again.
    """
    stavisky = fresh_stavisky
    session = BrandSession.open(
        stavisky.rdb_path
    )  # the graph and the session's start are read before counting
    session_start_ms(session, session.graph())
    decoded = collections.Counter()

    class CountingLzf:
        @staticmethod
        def decompress(data, size):
            decoded[bytes(data)] += 1
            return lzf.decompress(data, size)

    monkeypatch.setattr(primitives, "lzf", CountingLzf)
    recording = BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural", timing=timing, read_workers=1)
    assert recording.timing == timing
    entries = len(recording.entry_ids)  # each raw entry is larger than a stream node: one node per entry
    assert len(decoded) >= entries
    # Besides the pass, only the peeks at the first and last entry (stream length, clock field) decode a node.
    assert len([count for count in decoded.values() if count > 1]) <= 2
    decoded.clear()
    first = [recording.get_traces(segment_index=s) for s in range(recording.get_num_segments())]
    assert sum(decoded.values()) == 0
    # Each row leaves the spool after its first full read (so the page cache does not hold the samples twice
    # while the NWB file is written); reading them again decodes each node once more.
    samples = recording._index.samples
    assert samples.released_rows == samples.rows
    again = [recording.get_traces(segment_index=s) for s in range(recording.get_num_segments())]
    assert len(decoded) >= entries and set(decoded.values()) == {1}
    for one, two in zip(first, again):
        np.testing.assert_array_equal(one, two)
    session.close()


@ignore_gap_warning
def test_an_index_in_use_is_shared_by_extractors_with_the_same_settings(fresh_stavisky, monkeypatch):
    stavisky = fresh_stavisky
    passes = collections.Counter()
    original = recording_index._read_stream

    def counting(session, raw, workers):
        passes[raw.spec.name, raw.clock] += 1
        return original(session, raw, workers)

    monkeypatch.setattr(recording_index, "_read_stream", counting)
    first = BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural", read_workers=1)
    second = BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural", read_workers=2)
    assert second._index is first._index and passes == {("continuousNeural", "sync"): 1}
    other_clock = BrandRecordingExtractor(
        stavisky.rdb_path, "continuousNeural", timing="entries", clock="redis"
    )
    assert other_clock._index is not first._index  # other settings: a pass of its own
    np.testing.assert_array_equal(second.get_traces(segment_index=0), stavisky_runs(stavisky)[0][1])
    del first, second, other_clock
    gc.collect()
    # Nothing uses the index any more: it is gone with its spool files, and a new extractor reads again.
    BrandRecordingExtractor(stavisky.rdb_path, "continuousNeural", read_workers=1)
    assert passes == {("continuousNeural", "sync"): 2, ("continuousNeural", "redis"): 1}


@ignore_gap_warning
def test_a_live_stream_changed_since_indexing_is_an_error_on_a_second_read(stavisky):
    with EmbeddedRedisServer(stavisky.rdb_path) as server:
        recording = BrandRecordingExtractor(server.socket_path, "continuousNeural", read_workers=1)
        recording.get_traces(segment_index=0, start_frame=0, end_frame=600)
        ids = [str(EntryId(*map(int, pair))) for pair in recording.entry_ids]
        server.client().xdel("continuousNeural", ids[3])
        np.testing.assert_array_equal(  # rows not yet read come from the spool
            recording.get_traces(segment_index=0, start_frame=600, end_frame=700),
            stavisky_runs(stavisky)[0][1][600:700],
        )
        with pytest.raises(
            GraphError,
            match=rf"stream 'continuousNeural': entries {ids[0]} to {ids[19]} "
            r"changed in the source since it was indexed \(19 entries, expected 20\); open the recording again",
        ):
            recording.get_traces(segment_index=0, start_frame=0, end_frame=600)


def test_rdb_split_points_fall_on_node_boundaries(stavisky):
    source = RdbStreamSource(stavisky.rdb_path)
    total = source.stream_stats("continuousNeural").length
    points = source.split_points("continuousNeural", 3)
    assert len(points) == 2
    ranges = list(zip([None, *points], [*(point.predecessor() for point in points), None]))
    ids = [
        batch.ids if hasattr(batch, "ids") else parse_entry_ids([entry[0] for entry in batch])
        for start, end in ranges
        for batch in source.iter_entry_batches("continuousNeural", start, end)
    ]
    joined = np.concatenate(ids)
    assert len(joined) == total  # every entry in exactly one range, in order
    assert (np.diff(joined[:, 0].astype(np.int64)) >= 0).all()
    source.close()


def test_bad_read_workers(gem):
    with pytest.raises(RecordingConfigurationError, match=r"read_workers must be at least 1, got 0"):
        BrandRecordingExtractor(gem.rdb_path, "nsp_neural", read_workers=0)
