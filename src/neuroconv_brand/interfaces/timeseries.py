"""``type_nwb: TimeSeries`` streams: one NWB TimeSeries per exported key."""

from __future__ import annotations

import warnings

from neuroconv.utils import DeepDict
from pynwb import NWBFile, TimeSeries

from ..graph.stream_specs import KeySpec
from .base import BrandStreamInterface
from .iterators import DEFAULT_BUFFER_GB, DEFAULT_CHUNK_MB
from .series_comments import series_comments


def series_name(stream: str, key: str) -> str:
    """The NWB name of a stream key's series, as exportNWB names it: ``<stream>_<key>``."""
    return f"{stream}_{key}"


class BrandTimeSeriesInterface(BrandStreamInterface):
    """Convert a BRAND ``TimeSeries`` stream: one NWB ``TimeSeries`` per key with an ``nwb:`` block.

    Data have shape ``(time, channels)``; an entry of ``samp_per_stream`` samples becomes that many rows, each
    with its own time (the entry time stamps the first sample; the others follow at ``samp`` x entry rate).
    A series with evenly spaced times is written with ``starting_time`` and ``rate``.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The stream to convert.
    brand_base_dir : str, optional
        The BRAND base directory (for graphs whose supergraph has no compiled stream definitions).
    derivative : str, optional
        The nickname of the exportNWB derivative whose parameters configure the export (default: the graph's).
    clock : {"sync", "monotonic", "redis"}
        What stamps the entries.
    on_bad_entry : {"raise", "skip"}
        Entries whose payload does not match the declared shape: raise, or drop them with a warning.
    redis_server_path : str, optional
        For ``.rdb`` sources: read through this redis-server instead of the direct file reader.
    verbose : bool
        Print progress.
    """

    display_name = "BRAND TimeSeries stream"
    info = "A BRAND Redis stream whose node YAML says type_nwb: TimeSeries."
    type_nwb = "TimeSeries"
    spools_data = True

    @property
    def numeric_keys(self) -> dict[str, KeySpec]:
        """The exported keys that hold numbers (text keys cannot be TimeSeries data)."""
        return self.spec.exported_numeric_keys

    def get_metadata(self) -> DeepDict:
        """Per-key ``TimeSeries`` metadata (name, description, unit, comments), editable before writing."""
        metadata = super().get_metadata()
        for name, key in self.numeric_keys.items():
            nwb = key.nwb or {}
            metadata["TimeSeries"][series_name(self.spec.name, name)] = dict(
                name=series_name(self.spec.name, name),
                description=str(nwb.get("description", f"BRAND stream '{self.spec.name}', key '{name}'")),
                unit=str(nwb.get("unit", "n/a")),
                comments=series_comments(
                    self.spec.name,
                    name,
                    clock=self.clock,
                    rate=self.spec.rate,
                    graph_comments=self.spec.comments,
                ),
            )
        return metadata

    def get_metadata_schema(self) -> dict:
        """The base schema plus a ``TimeSeries`` block keyed by series name."""
        schema = super().get_metadata_schema()
        schema["properties"]["TimeSeries"] = {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "unit": {"type": "string"},
                    "comments": {"type": "string"},
                    "conversion": {"type": "number"},
                    "offset": {"type": "number"},
                },
                "additionalProperties": False,
            },
        }
        return schema

    def add_to_nwbfile(
        self,
        nwbfile: NWBFile,
        metadata: dict | None = None,
        *,
        stub_test: bool = False,
        chunk_mb: float = DEFAULT_CHUNK_MB,
        buffer_gb: float = DEFAULT_BUFFER_GB,
        display_progress: bool = False,
    ) -> None:
        """Add one ``TimeSeries`` per exported numeric key to ``nwbfile.acquisition``.

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited.
        stub_test : bool
            Write only the first entries (a quick check of a large session).
        chunk_mb : float
            Chunk size of the data iterators in MB (chunks span all channels).
        buffer_gb : float
            Read-buffer size of the data iterators in GB (buffers span all channels).
        display_progress : bool
            Show a progress bar per series.
        """
        metadata = metadata if metadata is not None else self.get_metadata()
        skipped_text = sorted(set(self.spec.exported_keys) - set(self.numeric_keys))
        if skipped_text:
            warnings.warn(
                f"stream '{self.spec.name}': text key(s) {skipped_text} cannot be TimeSeries data; not written.",
                stacklevel=2,
            )
        entry_seconds = self.entries_to_write(stub_test)
        if len(entry_seconds) == 0:
            warnings.warn(f"stream '{self.spec.name}' has no entries; nothing written.", stacklevel=2)
            return
        for name, key in self.numeric_keys.items():
            series_metadata = metadata.get("TimeSeries", {}).get(series_name(self.spec.name, name), {})
            arguments = self.key_series_arguments(key, entry_seconds, chunk_mb, buffer_gb, display_progress)
            nwbfile.add_acquisition(TimeSeries(**arguments, **series_metadata))
