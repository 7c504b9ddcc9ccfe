"""Per-dataset edits of a NeuroConv backend configuration, from a plain mapping (YAML/JSON).

``{"acquisition/sbp_samples/data": {"chunk_shape": [1000, 128], "compressors": ["gzip"],
"compressor_options": [{"level": 9}]}}``: any field of NeuroConv's ``DatasetIOConfiguration`` for the backend.
Used by the YAML specification runner and by ``neuroconv-brand convert --backend-config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic

#: Codec lists of a dataset configuration, and the field that holds their options.
_OPTIONS_OF = {"compressors": "compressor_options", "filters": "filter_options"}


def buffer_for_chunks(
    chunk_shape: tuple[int, ...], buffer_shape: tuple[int, ...], full_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The largest buffer, no bigger than the current one, that whole chunks fill (or the full extent)."""
    return tuple(
        full if chunk >= full else min(full, max(chunk, (buffer // chunk) * chunk))
        for chunk, buffer, full in zip(chunk_shape, buffer_shape, full_shape)
    )


def apply_dataset_edits(
    configuration: Any, edits: Mapping[str, Mapping[str, Any]], where: Mapping[str, str], backend: str
) -> list[str]:
    """Apply ``edits`` (location -> fields) to ``configuration`` in place; return every problem found.

    A new ``chunk_shape`` without a ``buffer_shape`` gets the largest buffer, within the default one, that whole
    chunks fill (NeuroConv requires chunks to divide the buffer). New ``compressors`` (or Zarr ``filters``)
    without their ``compressor_options`` (``filter_options``) get the new codecs' defaults: options meant for
    the old codec would fail at write time.

    Parameters
    ----------
    configuration : HDF5BackendConfiguration or ZarrBackendConfiguration
        NeuroConv's configuration of the file being written.
    edits : mapping
        Dataset location -> the fields to change.
    where : mapping
        Dataset location -> where its edit was given (prefix of each problem, e.g. ``"spec.yaml: at $.x"``).
    backend : str
        ``"hdf5"`` or ``"zarr"``, for messages.
    """
    datasets = configuration.dataset_configurations
    problems = []
    for location, settings in edits.items():
        origin = where.get(location, location)
        dataset = datasets.get(location)
        if dataset is None:
            problems.append(
                f"{origin}: '{location}' is not a dataset of this file. Fix: use one of {sorted(datasets)}."
            )
            continue
        fields = dict(dataset)
        unknown = sorted(set(settings) - set(fields))
        if unknown:
            problems.append(
                f"{origin}: {unknown} cannot be set with the {backend} backend. "
                "Fix: remove them (filters and filter_options are Zarr only)."
            )
            continue
        changes = {key: tuple(value) if key.endswith("_shape") else value for key, value in settings.items()}
        chunk_shape = changes.get("chunk_shape")
        if chunk_shape is not None and len(chunk_shape) != len(dataset.full_shape):
            problems.append(
                f"{origin}.chunk_shape: {list(chunk_shape)} has {len(chunk_shape)} dimension(s); the dataset "
                f"{location} has shape {list(dataset.full_shape)}. Fix: give one size per dimension."
            )
            continue
        for codecs, options in _OPTIONS_OF.items():
            if codecs in changes and options in fields and options not in changes:
                changes[options] = None
        if chunk_shape is not None and "buffer_shape" not in changes:
            changes["buffer_shape"] = buffer_for_chunks(chunk_shape, dataset.buffer_shape, dataset.full_shape)
        try:
            datasets[location] = type(dataset)(**{**fields, **changes})
        except pydantic.ValidationError as exc:
            reasons = "; ".join(
                error["msg"].removeprefix("Value error, ").rstrip("!. ") for error in exc.errors()
            )
            problems.append(
                f"{origin}: NeuroConv rejects these settings for {location} (shape {list(dataset.full_shape)}, "
                f"{dataset.dtype}): {reasons}. Fix: change them as the message says."
            )
    return problems
