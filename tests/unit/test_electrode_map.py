"""Which electrode rows a crossings stream's channels map to (graphs from the generator; no Redis)."""

import copy

import numpy as np
import pytest

from neuroconv_brand.errors import GraphError
from neuroconv_brand.graph.supergraph import Graph
from neuroconv_brand.mechanisms.crossings import crossing_times, crossings_key
from neuroconv_brand.participant.electrode_map import crossing_streams, map_channels_to_electrodes
from neuroconv_brand.testing import SessionConfig
from neuroconv_brand.testing.definitions import build_graph
from neuroconv_brand.testing.supergraph import FilePaths, build_supergraph


def model_for(**options) -> dict:
    config = SessionConfig(**options)
    return build_supergraph(config, build_graph(config), FilePaths("/p.yaml", "/d.yaml"), 10**12)


def graph_of(model: dict) -> Graph:
    return Graph.from_supergraph(model)


def rows(mapping) -> list[int]:
    return mapping.rows.tolist()


def test_single_stream_covers_every_electrode():
    graph = graph_of(model_for())
    mapping = map_channels_to_electrodes(graph, "thresh_cross", 128)
    assert rows(mapping) == list(range(128))
    assert crossing_streams(graph) == [("thresh_cross", 128)]


def test_several_spike_times_streams_link_the_right_electrodes_by_node_channel_range():
    graph = graph_of(model_for(n_arrays=3, channels_per_array=96, split_arrays=True))
    for number in range(3):
        mapping = map_channels_to_electrodes(graph, f"thresh_cross_{number + 1}", 288)
        assert rows(mapping) == list(range(96 * number, 96 * (number + 1)))
        assert "neural_ch_range" in mapping.rule


def test_without_channel_ranges_stream_order_tiles_the_electrodes():
    model = model_for(split_arrays=True)
    for node in model["nodes"].values():
        node["parameters"].pop("neural_ch_range", None)
    graph = graph_of(model)
    assert rows(map_channels_to_electrodes(graph, "thresh_cross_2", 128)) == list(range(64, 128))
    assert "stream order" in map_channels_to_electrodes(graph, "thresh_cross_1", None).rule


def test_channel_range_of_the_second_stream_of_a_multi_stream_acquisition_node():
    model = model_for(split_arrays=True)
    raw = model["nodes"]["nsp_in"]["parameters"]
    raw.update(stream_names=["nsp_neural_1", "nsp_neural_2"], chan_per_stream=[64, 64])
    model["nodes"]["nsp_all_2"]["parameters"].update(input_stream="nsp_neural_2", neural_ch_range=[0, 64])
    model["nodes"]["nsp_all_1"]["parameters"].update(input_stream="nsp_neural_1", neural_ch_range=[0, 64])
    graph = graph_of(model)
    mapping = map_channels_to_electrodes(graph, "thresh_cross_2", 128)
    assert rows(mapping) == list(range(64, 128))
    assert "nsp_neural_2" in mapping.rule


def test_undeterminable_mapping_suggests_electrode_offset():
    model = model_for(split_arrays=True)
    for node in model["nodes"].values():
        node["parameters"].pop("neural_ch_range", None)
    with pytest.raises(
        GraphError, match=r"cannot tell which electrodes stream 'thresh_cross_2'.*electrode_offset="
    ):
        map_channels_to_electrodes(graph_of(model), "thresh_cross_2", 192)


def test_single_stream_with_fewer_channels_than_electrodes_is_ambiguous():
    with pytest.raises(GraphError, match="hold 128 channels, not the 192 electrodes"):
        map_channels_to_electrodes(graph_of(model_for()), "thresh_cross", 192)


def test_explicit_options_win_and_are_checked():
    graph = graph_of(model_for(split_arrays=True))
    assert rows(map_channels_to_electrodes(graph, "thresh_cross_1", 128, electrode_offset=64)) == list(
        range(64, 128)
    )
    custom = list(reversed(range(64)))
    assert rows(map_channels_to_electrodes(graph, "thresh_cross_2", 128, electrodes=custom)) == custom
    with pytest.raises(GraphError, match="has 64 channels but electrodes= lists 3 rows"):
        map_channels_to_electrodes(graph, "thresh_cross_2", 128, electrodes=[0, 1, 2])
    with pytest.raises(GraphError, match=r"electrode rows 100\.\.163 .* electrodes table has 128 rows"):
        map_channels_to_electrodes(graph, "thresh_cross_2", 128, electrode_offset=100)
    with pytest.raises(GraphError, match="must be >= 0"):
        map_channels_to_electrodes(graph, "thresh_cross_2", 128, electrode_offset=-1)


def test_channels_beyond_electrodes_raise_instead_of_index_error():
    graph = graph_of(model_for(split_arrays=True))
    with pytest.raises(GraphError, match="electrodes table has 100 rows"):
        map_channels_to_electrodes(graph, "thresh_cross_2", 100, electrode_offset=64)


def test_crossings_key_must_be_named_and_declared():
    model = model_for()
    graph = graph_of(model)
    assert crossings_key(graph.streams["thresh_cross"]).name == "crossings"
    broken = copy.deepcopy(model)
    broken["streams"]["thresh_cross"]["crossings"]["nwb"] = {"crossings": "spikes"}
    with pytest.raises(GraphError, match="nwb crossings names key 'spikes'"):
        crossings_key(graph_of(broken).streams["thresh_cross"])
    broken["streams"]["thresh_cross"]["crossings"]["nwb"] = {"description": "no crossings entry"}
    with pytest.raises(GraphError, match=r"no key's nwb block names the crossings key"):
        crossings_key(graph_of(broken).streams["thresh_cross"])


def test_mapping_rows_are_int64():
    mapping = map_channels_to_electrodes(graph_of(model_for()), "thresh_cross", 128)
    assert mapping.rows.dtype == np.int64


def test_explicit_and_fallback_crossings_keys():
    model = model_for()
    stream = model["streams"]["thresh_cross"]
    stream["note"] = {"chan_per_stream": 1, "samp_per_stream": 1, "sample_type": "str", "nwb": {}}
    spec = graph_of(model).streams["thresh_cross"]
    assert list(spec.exported_keys) == ["crossings", "note"] and list(spec.exported_numeric_keys) == [
        "crossings"
    ]
    assert crossings_key(spec, "crossings").name == "crossings"
    with pytest.raises(GraphError) as error:
        crossings_key(spec, "spikes")
    assert str(error.value) == (
        "stream 'thresh_cross' declares no key 'spikes' (declared: crossings, note); pass key= with the field that "
        "holds the crossings."
    )
    stream["crossings"]["nwb"] = {"description": "not named"}
    unnamed = graph_of(model).streams["thresh_cross"]
    with pytest.raises(GraphError, match=r"no key's nwb block names the crossings key"):
        crossings_key(unnamed)
    # The sorting's fallback: the only exported numeric key (the text key does not count).
    assert crossings_key(unnamed, only_numeric_fallback=True).name == "crossings"


def test_a_stream_that_is_not_spike_times_is_not_placed_by_stream_order():
    model = model_for()
    model["streams"]["binned_spikes"]["samples"]["nwb"] = {"crossings": "samples"}
    with pytest.raises(GraphError) as error:
        map_channels_to_electrodes(graph_of(model), "binned_spikes", None)
    assert str(error.value) == (
        "cannot tell which electrodes stream 'binned_spikes' covers: its node gives no usable neural_ch_range, and "
        "it is not a SpikeTimes stream, so the graph's crossing streams ('thresh_cross' (128 channels)) do not "
        "place it; pass electrode_offset=<row of channel 0> or electrodes=[<row of each channel>] for stream "
        "'binned_spikes'."
    )


def test_crossing_times_are_entry_times_plus_the_sample_offset():
    entry_seconds = np.array([1.0, 1.01, 1.02])
    times = crossing_times(entry_seconds, np.array([0, 2, 1]), np.array([0, 4, 1]), 500.0)
    np.testing.assert_allclose(times, [1.0, 1.028, 1.012])
    # Rate unknown (fewer than 2 entries, no graph rate): every sample at its entry's time.
    np.testing.assert_allclose(crossing_times(entry_seconds, np.array([1]), np.array([3]), None), [1.01])
