"""``type_nwb: Position`` streams: a ``Position`` container with one ``SpatialSeries`` per exported key."""

from __future__ import annotations

import warnings
from typing import Literal

from neuroconv.tools.nwb_helpers import get_module
from neuroconv.utils import DeepDict
from pynwb import NWBFile
from pynwb.behavior import Position, SpatialSeries

from ..errors import ConfigurationError, GraphError
from ..graph.stream_specs import KeySpec
from ..mechanisms.position import JSON_TYPES, SPATIAL_SERIES_SETTINGS, split_nwb_block
from .base import BrandStreamInterface
from .iterators import DEFAULT_BUFFER_GB, DEFAULT_CHUNK_MB
from .series_comments import series_comments

#: Spellings of spatial units mapped to the names nwbinspector accepts.
UNIT_ALIASES = {
    "pixel": "pixels",
    "px": "pixels",
    "m": "meters",
    "meter": "meters",
    "cm": "centimeters",
    "centimeter": "centimeters",
    "mm": "millimeters",
    "millimeter": "millimeters",
    "um": "micrometers",
    "µm": "micrometers",
    "micrometer": "micrometers",
    "deg": "degrees",
    "degree": "degrees",
    "rad": "radians",
    "radian": "radians",
    "n/a": "n.a.",
    "na": "n.a.",
    "none": "n.a.",
    "": "n.a.",
}
VALID_UNITS = frozenset(
    {"pixels", "meters", "centimeters", "millimeters", "micrometers", "degrees", "radians", "n.a."}
)


def normalize_unit(unit: object) -> str:
    """A spatial unit as nwbinspector spells it (``px`` -> ``pixels``, none -> ``n.a.``); others unchanged."""
    if unit is None:
        return "n.a."
    text = str(unit).strip()
    return UNIT_ALIASES.get(text.lower(), text)


class BrandPositionInterface(BrandStreamInterface):
    """Convert a BRAND ``Position`` stream: a ``Position`` container in ``acquisition``, named after the stream.

    It holds one ``SpatialSeries`` per key with an ``nwb:`` block, named after the key (as exportNWB names
    them, e.g. ``acquisition/cursorData/X``). BRAND task nodes publish each coordinate as its own key (``X``,
    ``Y``, ``radius``, ``state``), so a scalar key becomes a ``(time, 1)`` series and a key with
    ``chan_per_stream`` 2 or 3 a ``(time, 2|3)`` series (x, y[, z]); a key with more than 3 channels is not a
    position and is an error (declare it a TimeSeries stream instead). Text keys are skipped with a warning.

    Settings: the ``nwb:`` block's entries that are SpatialSeries arguments (``reference_frame``, ``unit``,
    ``resolution``, ``conversion``, ``offset``, ``description``) are passed on; units are spelled as NWB expects
    (``px`` -> ``pixels``; no unit -> ``n.a.``). Any other entry would have crashed exportNWB; here it is
    kept, with the user's ``comments``, in the series' ``comments`` JSON (with a warning). Times are the
    stream's entry times (``starting_time`` + ``rate`` when regular), as for TimeSeries streams.

    Parameters
    ----------
    file_path : str
        The BRAND source: a ``.rdb`` file, ``redis://host:port/db``, ``rediss://...``, or a unix socket path.
    stream_name : str
        The Position stream to convert.
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

    display_name = "BRAND Position stream"
    info = "A BRAND Redis stream whose node YAML says type_nwb: Position (cursor, target, ...)."
    type_nwb = "Position"
    spools_data = True

    @property
    def numeric_keys(self) -> dict[str, KeySpec]:
        """The exported keys that hold numbers (text keys cannot be SpatialSeries data)."""
        return self.spec.exported_numeric_keys

    def _series_metadata(self, key: KeySpec) -> dict:
        where = f"stream '{self.spec.name}', key '{key.name}'"
        settings, extra, user_comments = split_nwb_block(key.nwb or {})
        values: dict = {"name": key.name}
        for name, value in settings.items():
            expected = SPATIAL_SERIES_SETTINGS[name]
            if expected is float:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise GraphError(
                        f"{where}: nwb '{name}' must be a number, got {value!r}; fix the node YAML"
                    ) from None
            elif expected is str:
                value = str(value)
            values[name] = value
        values["unit"] = normalize_unit(settings.get("unit"))
        values.setdefault("description", f"Key '{key.name}' of BRAND stream '{self.spec.name}'.")
        values["comments"] = series_comments(
            self.spec.name,
            key.name,
            clock=self.clock,
            rate=self.spec.rate,
            graph_comments=self.spec.comments,
            comments=user_comments,
            nwb_extra=extra,
        )
        return values

    def get_metadata(self) -> DeepDict:
        """``metadata["Behavior"]["Position"][<stream>]``: the container's name and each key's SpatialSeries settings."""
        metadata = super().get_metadata()
        metadata["Behavior"]["Position"][self.spec.name] = dict(
            name=self.spec.name,
            SpatialSeries={name: self._series_metadata(key) for name, key in self.numeric_keys.items()},
        )
        return metadata

    def get_metadata_schema(self) -> dict:
        """The base schema plus ``Behavior.Position``, keyed by stream name."""
        schema = super().get_metadata_schema()
        series = {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "comments": {"type": "string"},
                **{name: {"type": JSON_TYPES[kind]} for name, kind in SPATIAL_SERIES_SETTINGS.items()},
            },
            "additionalProperties": False,
        }
        position = {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "SpatialSeries": {"type": "object", "additionalProperties": series},
                },
                "additionalProperties": False,
            },
        }
        # Behavior is where NeuroConv's behavior interfaces keep their metadata; other interfaces add siblings.
        schema["properties"]["Behavior"] = {"type": "object", "properties": {"Position": position}}
        return schema

    def _check_keys(self) -> None:
        for name, key in self.numeric_keys.items():
            if key.chan > 3:
                raise GraphError(
                    f"stream '{self.spec.name}', key '{name}': {key.chan} channels per sample, but a position has at "
                    "most 3 (x, y, z). Declare the stream type_nwb: TimeSeries, or remove the key's nwb block."
                )
        text = sorted(set(self.spec.exported_keys) - set(self.numeric_keys))
        if text:
            warnings.warn(
                f"stream '{self.spec.name}': text key(s) {text} cannot be SpatialSeries data; not written.",
                stacklevel=3,
            )
        for name, key in self.numeric_keys.items():
            _, extra, _ = split_nwb_block(key.nwb or {})
            if extra:
                warnings.warn(
                    f"stream '{self.spec.name}', key '{name}': nwb setting(s) {sorted(extra)} are not SpatialSeries "
                    f"arguments (those are {sorted(SPATIAL_SERIES_SETTINGS)}); kept in the series' comments JSON "
                    "under 'nwb_extra'.",
                    stacklevel=3,
                )
            unit = normalize_unit((key.nwb or {}).get("unit"))
            if unit not in VALID_UNITS:
                warnings.warn(
                    f"stream '{self.spec.name}', key '{name}': unit '{unit}' is not a spatial unit NWB recognises "
                    f"({', '.join(sorted(VALID_UNITS))}); written as given. Edit metadata['Behavior']['Position'] to change it.",
                    stacklevel=3,
                )

    def add_to_nwbfile(
        self,
        nwbfile: NWBFile,
        metadata: dict | None = None,
        *,
        stub_test: bool = False,
        chunk_mb: float = DEFAULT_CHUNK_MB,
        buffer_gb: float = DEFAULT_BUFFER_GB,
        display_progress: bool = False,
        parent_container: Literal["acquisition", "processing/behavior"] = "acquisition",
    ) -> None:
        """Add the stream's ``Position`` container (one ``SpatialSeries`` per numeric key) to ``acquisition``.

        Parameters
        ----------
        nwbfile : NWBFile
            The file being built.
        metadata : dict, optional
            Metadata as from :meth:`get_metadata`, possibly edited.
        stub_test : bool
            Write only the first entries (a quick check of a large session).
        chunk_mb : float
            Target chunk size of the data iterators, in MB (chunks span all channels).
        buffer_gb : float
            Read-buffer size of the data iterators, in GB (buffers span all channels).
        display_progress : bool
            Show a progress bar per series.
        parent_container : {"acquisition", "processing/behavior"}
            Where the container goes: ``acquisition`` as exportNWB writes it, or the ``behavior`` processing
            module (readers that take every ``acquisition`` entry for a TimeSeries, such as neo, then open the
            file).
        """
        if parent_container not in ("acquisition", "processing/behavior"):
            raise ConfigurationError(
                f"stream '{self.spec.name}': parent_container must be 'acquisition' or 'processing/behavior', got "
                f"{parent_container!r}."
            )
        metadata = metadata if metadata is not None else self.get_metadata()
        self._check_keys()
        entry_seconds = self.entries_to_write(stub_test)
        if len(entry_seconds) == 0 or not self.numeric_keys:
            warnings.warn(
                f"stream '{self.spec.name}' has no entries or no numeric key; nothing written.", stacklevel=2
            )
            return
        block = metadata.get("Behavior", {}).get("Position", {}).get(self.spec.name, {})
        series_metadata = block.get("SpatialSeries", {})
        container = Position(name=block.get("name", self.spec.name))
        for name, key in self.numeric_keys.items():
            settings = dict(series_metadata.get(name) or self._series_metadata(key))
            arguments = self.key_series_arguments(key, entry_seconds, chunk_mb, buffer_gb, display_progress)
            container.add_spatial_series(SpatialSeries(**arguments, **settings))
        if parent_container == "acquisition":
            nwbfile.add_acquisition(container)
        else:
            get_module(nwbfile, "behavior", "Behavioral data: the BRAND task's positions.").add(container)
