"""A session's state lives in its SessionContext, the derivative is a parameter, and spool files close cleanly."""

import copy
import gc
import json
import warnings

import numpy as np
import pytest

from neuroconv_brand import BrandConverter, BrandSession
from neuroconv_brand.extractors.sorting_extractor import BrandSortingExtractor
from neuroconv_brand.reading.spool_files import SpooledArray
from neuroconv_brand.reading.stream_spool import session_spool
from neuroconv_brand.testing import SessionConfig, save_session_rdb
from neuroconv_brand.timing.session_start import session_start_ms

NO_CURSOR = "exportNoCursor"


@pytest.fixture(scope="module")
def two_derivatives(tmp_path_factory):
    """A 2025-era session whose graph publishes a second exportNWB-like derivative that leaves out the cursor."""
    folder = tmp_path_factory.mktemp("two_derivatives")

    def add_derivative(client, synthetic):
        model = copy.deepcopy(synthetic.supergraph)
        parameters = copy.deepcopy(model["derivatives"]["exportNWB"]["parameters"])
        parameters["description"] = "export without the cursor"
        parameters["streams"]["cursorData"]["enable"] = False
        model["derivatives"][NO_CURSOR] = {
            **model["derivatives"]["exportNWB"],
            "nickname": NO_CURSOR,
            "parameters": parameters,
        }
        client.xadd("supergraph_stream", {"data": json.dumps(model)})

    rdb_path = folder / "two_derivatives.rdb"
    save_session_rdb(SessionConfig(duration_s=2.0, seed=5), rdb_path, folder, before_save=add_derivative)
    return rdb_path


def test_the_session_state_lives_in_its_context_and_goes_with_it(clean_session, tmp_path):
    rdb_path = tmp_path / "own.rdb"
    rdb_path.write_bytes(clean_session.rdb_path.read_bytes())  # a session no other test holds open
    with BrandSession.open(rdb_path) as session:
        graph = session.graph()
        assert session.graph() is graph
        assert list(session.context.graphs.values()) == [graph]
        start = session_start_ms(session, graph)
        assert session.context.start_ms == {id(graph): start}
        assert start == clean_session.truth.session_start_ms
        spool = session_spool(session)
        assert session.context.spool is spool
        folder = spool.folder
        assert folder.is_dir()
    assert session.context.graphs == {} and session.context.start_ms == {}
    assert session.context.spool is None
    assert not folder.exists()


def test_the_derivative_is_a_parameter_not_session_state(two_derivatives):
    chosen = BrandConverter(file_path=two_derivatives, derivative=NO_CURSOR)
    default = BrandConverter(file_path=two_derivatives)  # built after, on the same open session
    assert chosen.data_interface_objects["sbp"].session is default.data_interface_objects["sbp"].session
    assert "cursorData" not in chosen.data_interface_objects
    assert "cursorData" in default.data_interface_objects
    assert chosen.data_interface_objects["sbp"].graph.derivative_name == NO_CURSOR
    assert default.data_interface_objects["sbp"].graph.derivative_name == "exportNWB"
    assert chosen.get_metadata()["NWBFile"]["session_description"] == "export without the cursor"
    assert chosen.data_interface_objects["sbp"].source_data["derivative"] == NO_CURSOR
    assert (
        "derivative" in BrandConverter.get_source_schema()["properties"]
    )  # so YAML specifications can set it


def test_extractors_take_the_derivative_and_keep_it_in_their_kwargs(two_derivatives):
    sorting = BrandSortingExtractor(two_derivatives, "thresh_cross", derivative=NO_CURSOR)
    assert sorting.graph.derivative_name == NO_CURSOR
    assert sorting._kwargs["derivative"] == NO_CURSOR


def test_a_spool_file_is_closed_by_its_owner_not_by_the_garbage_collector(tmp_path):
    spooled = SpooledArray(tmp_path / "column.bin", np.int16)
    spooled.append(np.arange(5))
    spooled.detach()
    file = spooled._file
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del spooled
        gc.collect()
    assert file.closed
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
