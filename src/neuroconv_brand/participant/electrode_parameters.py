"""Per-electrode columns from BRAND's parameter streams and files (exportNWB's optional electrode columns).

The graph's exportNWB parameters name where the values are (the same parameters exportNWB reads):

=====================================  ====================================  ==================================
parameter                              field(s), float64 unless noted        columns
=====================================  ====================================  ==================================
``ch_mask_stream``                     ``channels`` (uint16 indices of the    ``mask`` (1.0 = enabled,
                                       enabled channels)                     0.0 = disabled)
``thresh_stream`` / ``thresh_file``    ``thresholds``                        ``threshold``
``norm_stream`` (str or list) /        ``means``, ``stds``                   ``mean``, ``std``
``norm_file``
``denorm_stream`` / ``denorm_file``    ``means``, ``stds``                   ``denorm_mean``, ``denorm_std``
=====================================  ====================================  ==================================

Each value comes from the **latest** entry of its stream (exportNWB meant to read it but, by a bug, always
wrote ``'N/A'``; see ``docs/differences-from-exportnwb.md``). A stream wins over its file; the file (a YAML with the same keys,
as calcThreshNorm writes) is read when the stream is not configured or holds nothing. With a list of
``norm_stream`` names the first stream whose latest entry holds both ``means`` and ``stds`` is used.

calcThreshNorm's ``norm_bp`` form stores ``2 * n`` means/stds: the threshold-crossing features of the ``n``
electrodes, then their spike-band-power features. Both are written: ``mean``/``std`` (crossings) and
``sbp_mean``/``sbp_std`` (``denorm_sbp_mean``/``denorm_sbp_std`` for denormalisation).

A configured source that is absent, empty, or whose length fits neither ``n`` nor ``2 * n`` leaves its
column(s) out with a warning naming the stream or file and the lengths; no ``'N/A'`` strings are written.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MetadataFileError
from ..sources.base import StreamSource
from .files import load_yaml


@dataclass(frozen=True)
class ElectrodeColumn:
    """One extra column of the electrodes table."""

    name: str
    description: str
    data: np.ndarray


@dataclass(frozen=True)
class _Found:
    values: tuple[np.ndarray, ...]
    origin: str


def parameter_columns(
    export_parameters: Mapping,
    source: StreamSource | None,
    n_electrodes: int,
    base_dir: str | Path | None = None,
) -> list[ElectrodeColumn]:
    """The ``mask``/``threshold``/``mean``/``std``/``denorm_*`` columns the graph's parameters make available.

    Parameters
    ----------
    export_parameters : Mapping
        The exportNWB derivative's ``parameters`` (``Graph.export_parameters``).
    source : StreamSource or None
        The session's source, for the parameter streams (None: files only).
    n_electrodes : int
        Rows of the electrodes table.
    base_dir : path, optional
        Folder that relative ``*_file`` paths are relative to (the BRAND base directory).
    """
    reader = _ParameterReader(export_parameters, source, base_dir)
    columns: list[ElectrodeColumn] = []
    mask = reader.mask(n_electrodes)
    if mask is not None:
        columns.append(mask)
    threshold = reader.find("thresh_stream", "thresh_file", ("thresholds",))
    if threshold is not None:
        columns += _fit(
            threshold,
            n_electrodes,
            [("threshold", "spike detection threshold of the channel, in the units of the raw neural data")],
            [],
        )
    for prefix, purpose in (("", "normalizing"), ("denorm_", "denormalizing normalized")):
        found = reader.find(f"{prefix or 'norm_'}stream", f"{prefix or 'norm_'}file", ("means", "stds"))
        if found is not None:
            columns += _fit(
                found,
                n_electrodes,
                [
                    (
                        f"{prefix}mean",
                        f"mean of the channel's threshold-crossing feature used for {purpose} binned data",
                    ),
                    (
                        f"{prefix}std",
                        f"standard deviation of the channel's threshold-crossing feature used for {purpose} binned data",
                    ),
                ],
                [
                    (
                        f"{prefix}sbp_mean",
                        f"mean of the channel's spike-band-power feature used for {purpose} binned data",
                    ),
                    (
                        f"{prefix}sbp_std",
                        f"standard deviation of the channel's spike-band-power feature used for {purpose} binned data",
                    ),
                ],
            )
    return columns


def _fit(
    found: _Found, n: int, names: list[tuple[str, str]], bp_names: list[tuple[str, str]]
) -> list[ElectrodeColumn]:
    lengths = {len(values) for values in found.values}
    length = lengths.pop() if len(lengths) == 1 else None
    if length == n:
        return [
            ElectrodeColumn(name, f"{text} (from {found.origin})", values)
            for (name, text), values in zip(names, found.values)
        ]
    if length == 2 * n and bp_names:
        origin = f"from {found.origin}"
        columns = [
            ElectrodeColumn(name, f"{text} ({origin}, first half: norm_bp form)", values[:n])
            for (name, text), values in zip(names, found.values)
        ]
        columns += [
            ElectrodeColumn(name, f"{text} ({origin}, second half: norm_bp form)", values[n:])
            for (name, text), values in zip(bp_names, found.values)
        ]
        return columns
    fits = f"{n}" + (f" or {2 * n} (norm_bp)" if bp_names else "")
    shown = ", ".join(f"{len(values)}" for values in found.values)
    warnings.warn(
        f"{found.origin} holds {shown} value(s) but the electrodes table has {n} rows (expected {fits}); "
        f"column(s) {', '.join(name for name, _ in names)} left out.",
        stacklevel=3,
    )
    return []


class _ParameterReader:
    def __init__(self, parameters: Mapping, source: StreamSource | None, base_dir: str | Path | None):
        self.parameters = parameters
        self.source = source
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.present = set(source.stream_names()) if source is not None else set()

    def mask(self, n: int) -> ElectrodeColumn | None:
        stream = self.parameters.get("ch_mask_stream")
        if not stream:
            return None
        fields = self._latest(str(stream), "ch_mask_stream")
        if fields is None:
            return None
        payload = fields.get(b"channels")
        if payload is None or len(payload) % 2:
            warnings.warn(
                f"channel mask stream '{stream}' (ch_mask_stream): the latest entry has no uint16 'channels' field; "
                "column 'mask' left out.",
                stacklevel=3,
            )
            return None
        channels = np.frombuffer(payload, dtype="<u2").astype(np.int64)
        outside = channels[channels >= n]
        if len(outside):
            warnings.warn(
                f"channel mask stream '{stream}' (ch_mask_stream) enables channel(s) {outside[:5].tolist()} but the "
                f"electrodes table has {n} rows; column 'mask' left out.",
                stacklevel=3,
            )
            return None
        # float rather than bool: NeuroConv fills the rows other interfaces add with NaN ("not known"), and has
        # no null value for a bool column.
        mask = np.zeros(n, dtype=np.float64)
        mask[channels] = 1.0
        return ElectrodeColumn(
            "mask",
            f"1.0 where the channel is enabled in the channel mask (latest entry of stream '{stream}'), 0.0 where "
            "it is disabled, NaN for electrodes the mask does not cover",
            mask,
        )

    def find(self, stream_parameter: str, file_parameter: str, keys: tuple[str, ...]) -> _Found | None:
        streams = self.parameters.get(stream_parameter)
        if streams:
            for stream in [streams] if isinstance(streams, str) else list(streams):
                found = self._from_stream(str(stream), stream_parameter, keys)
                if found is not None:
                    return found
        path = self.parameters.get(file_parameter)
        if path:
            return self._from_file(str(path), file_parameter, keys)
        return None

    def _latest(self, stream: str, parameter: str) -> dict[bytes, bytes] | None:
        if self.source is None:
            return None
        if stream not in self.present:
            warnings.warn(
                f"parameter stream '{stream}' ({parameter}) is not in the source (flushed before saving?); its "
                "electrode column(s) are left out.",
                stacklevel=4,
            )
            return None
        latest = self.source.read_latest(stream, 1)
        if not latest:
            warnings.warn(
                f"parameter stream '{stream}' ({parameter}) has no entries; its column(s) are left out.",
                stacklevel=4,
            )
            return None
        return latest[0][1]

    def _from_stream(self, stream: str, parameter: str, keys: tuple[str, ...]) -> _Found | None:
        fields = self._latest(stream, parameter)
        if fields is None:
            return None
        missing = [key for key in keys if key.encode() not in fields]
        bad = [key for key in keys if key not in missing and len(fields[key.encode()]) % 8]
        if missing or bad:
            problem = f"lacks {missing}" if missing else f"has {bad} not made of float64 values"
            warnings.warn(
                f"parameter stream '{stream}' ({parameter}): the latest entry {problem}.", stacklevel=4
            )
            return None
        values = tuple(np.frombuffer(fields[key.encode()], dtype="<f8").astype(np.float64) for key in keys)
        return _Found(values, f"parameter stream '{stream}' ({parameter}, latest entry)")

    def _from_file(self, path_text: str, parameter: str, keys: tuple[str, ...]) -> _Found | None:
        path = Path(path_text).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        try:
            data = load_yaml(path, f"{parameter}")
        except MetadataFileError as error:
            warnings.warn(f"{error} Its electrode column(s) are left out.", stacklevel=4)
            return None
        if not isinstance(data, dict) or any(key not in data for key in keys):
            warnings.warn(
                f"{parameter} {path} lacks the key(s) {list(keys)}; its column(s) are left out.", stacklevel=4
            )
            return None
        try:
            values = tuple(np.asarray(data[key], dtype=np.float64).reshape(-1) for key in keys)
        except (TypeError, ValueError):
            warnings.warn(
                f"{parameter} {path}: {list(keys)} must be lists of numbers; column(s) left out.",
                stacklevel=4,
            )
            return None
        return _Found(values, f"{parameter} {path}")
