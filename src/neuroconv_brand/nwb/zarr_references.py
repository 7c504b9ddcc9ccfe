"""Zarr NWB files whose object references any reader can decode: JSON instead of pickle.

hdmf-zarr (0.13) stores object references (the electrodes table's ``group`` column) with numcodecs' Pickle
codec unless its IO is given another ``object_codec_class``, and numcodecs 0.15+ refuses to decode Pickle by
default. ``NWBZarrIO`` 0.13 accepts ``object_codec_class`` but does not pass it on, and NeuroConv opens its
Zarr writer without it. :func:`json_object_references` makes NeuroConv's Zarr writer
(``BACKEND_NWB_IO["zarr"]``) write them with numcodecs' JSON codec while the block runs; a plain
``NWBZarrIO(path, mode="r").read()`` reads the result with default numcodecs settings.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numcodecs
from hdmf_zarr import NWBZarrIO
from hdmf_zarr.backend import ZarrIO


class _JsonObjectCodec(ZarrIO):
    """Inserted between ``NWBZarrIO`` and ``ZarrIO``: hands ``ZarrIO`` the JSON object codec."""

    def __init__(self, *args, **kwargs):
        kwargs["object_codec_class"] = numcodecs.JSON
        super().__init__(*args, **kwargs)


class JsonReferencesNWBZarrIO(NWBZarrIO, _JsonObjectCodec):
    """``NWBZarrIO`` that writes object references with numcodecs' JSON codec instead of Pickle."""


def nwb_io_class(backend: str) -> type:
    """The IO class that writes ``backend`` ("hdf5" or "zarr"): NeuroConv's, with JSON references for Zarr."""
    from neuroconv.tools.nwb_helpers import BACKEND_NWB_IO

    return JsonReferencesNWBZarrIO if backend == "zarr" else BACKEND_NWB_IO[backend]


_lock = threading.Lock()
_depth = 0
_replaced = None


@contextlib.contextmanager
def json_object_references() -> Iterator[None]:
    """Within the block, NeuroConv writes Zarr files with :class:`JsonReferencesNWBZarrIO`.

    The switch is process-wide while any block is open (NeuroConv looks its writer up in one module-level
    mapping); nested and concurrent blocks are allowed, and NeuroConv's own writer is back when the last ends.
    """
    from neuroconv.tools.nwb_helpers import BACKEND_NWB_IO

    global _depth, _replaced
    with _lock:
        if _depth == 0:
            _replaced = BACKEND_NWB_IO["zarr"]
            BACKEND_NWB_IO["zarr"] = JsonReferencesNWBZarrIO
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                BACKEND_NWB_IO["zarr"] = _replaced


class JsonZarrReferencesMixin:
    """For data interfaces: ``run_conversion`` writes Zarr object references as JSON (see module docs)."""

    def run_conversion(self, *args, **kwargs):
        """NeuroConv's ``run_conversion``; with ``backend="zarr"`` the object references are JSON."""
        with json_object_references():
            return super().run_conversion(*args, **kwargs)
