"""json_object_references: NeuroConv's Zarr writer stores object references as JSON inside the block only."""

from __future__ import annotations

import json

import pytest
from hdmf_zarr import NWBZarrIO
from neuroconv.tools.nwb_helpers import BACKEND_NWB_IO, configure_and_write_nwbfile
from pynwb.testing.mock.ecephys import mock_ElectricalSeries
from pynwb.testing.mock.file import mock_NWBFile

from neuroconv_brand.nwb.zarr_references import JsonReferencesNWBZarrIO, json_object_references


def nwbfile_with_electrodes():
    nwbfile = mock_NWBFile()
    mock_ElectricalSeries(nwbfile=nwbfile)
    return nwbfile


def group_codec(path) -> str:
    zarray = json.loads((path / "general/extracellular_ephys/electrodes/group/.zarray").read_text())
    return zarray["filters"][0]["id"]


def test_references_are_json_inside_the_block_and_pickle_outside(tmp_path, read_zarr_in_fresh_process):
    with json_object_references():
        configure_and_write_nwbfile(nwbfile_with_electrodes(), tmp_path / "json.nwb.zarr", backend="zarr")
    configure_and_write_nwbfile(nwbfile_with_electrodes(), tmp_path / "pickle.nwb.zarr", backend="zarr")
    assert group_codec(tmp_path / "json.nwb.zarr") == "json2"
    assert group_codec(tmp_path / "pickle.nwb.zarr") == "pickle"
    assert (
        read_zarr_in_fresh_process(tmp_path / "json.nwb.zarr")["electrode_groups"] == ["ElectrodeGroup"] * 5
    )


def test_neuroconv_writer_is_restored_after_nested_blocks_and_errors():
    with pytest.raises(RuntimeError), json_object_references():
        with json_object_references():
            assert BACKEND_NWB_IO["zarr"] is JsonReferencesNWBZarrIO
        assert BACKEND_NWB_IO["zarr"] is JsonReferencesNWBZarrIO
        raise RuntimeError("a failed write")
    assert BACKEND_NWB_IO["zarr"] is NWBZarrIO
