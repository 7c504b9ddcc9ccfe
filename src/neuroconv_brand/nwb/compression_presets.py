"""Named compression presets applied to a NeuroConv backend configuration.

``default``
    NeuroConv's own choice: gzip level 4 (with HDF5's shuffle filter for timestamps). Readable everywhere,
    single-threaded (about 35 MB/s of raw int16 samples on one core).
``fast``
    Multi-threaded Blosc (LZ4 or Zstd after a bit shuffle): the ``Blosc`` filter of ``hdf5plugin`` for HDF5, the
    ``blosc`` codec of numcodecs for Zarr. Files written with it need ``hdf5plugin`` (``import hdf5plugin``
    before opening) to be read with h5py/pynwb, and tools without the Blosc filter cannot read those datasets.
``none``
    No compression.

Typical use::

    nwbfile = converter.create_nwbfile(metadata)
    configuration = get_default_backend_configuration(nwbfile, backend="hdf5")
    apply_compression_preset(configuration, "fast")
    write_nwbfile(nwbfile, "session.nwb", backend_configuration=configuration)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # parsing a preset (the command line's --compression) needs no NeuroConv
    from neuroconv.tools.nwb_helpers import HDF5BackendConfiguration, ZarrBackendConfiguration

CompressionPreset = Literal["default", "fast", "none"]
BloscCodec = Literal["lz4", "zstd"]
BloscShuffle = Literal["bit", "byte"]
PRESETS: tuple[str, ...] = ("default", "fast", "none")

#: gzip level of NeuroConv's (and h5py's) default.
DEFAULT_GZIP_LEVEL = 4
#: Blosc levels that keep LZ4/Zstd fast on int16 neural data.
DEFAULT_BLOSC_LEVEL = {"lz4": 5, "zstd": 1}
#: c-blosc's thread count (read by the HDF5 Blosc filter at every compression call).
BLOSC_THREADS_VARIABLE = "BLOSC_NTHREADS"
#: Blosc's shuffle codes (the same in hdf5plugin and numcodecs).
_BLOSC_SHUFFLE = {"byte": 1, "bit": 2}
#: dtype kinds Blosc compresses: booleans and numbers (not strings or objects).
_BLOSC_KINDS = frozenset("biufc")


def compression_settings(
    preset: CompressionPreset,
    backend: Literal["hdf5", "zarr"],
    dataset_name: Literal["data", "timestamps"] = "data",
    codec: BloscCodec = "lz4",
    level: int | None = None,
    shuffle: BloscShuffle = "bit",
) -> tuple[list[str] | None, list[dict | None] | None]:
    """The ``(compressors, compressor_options)`` of a preset for one dataset, in NeuroConv 0.10.2's form.

    Parameters
    ----------
    preset : {"default", "fast", "none"}
        The preset.
    backend : {"hdf5", "zarr"}
        The backend of the configuration.
    dataset_name : {"data", "timestamps"}
        ``timestamps`` datasets get a shuffle stage with the ``default`` preset, as NeuroConv does.
    codec : {"lz4", "zstd"}
        The Blosc compressor of the ``fast`` preset.
    level : int, optional
        Compression level (gzip 0-9, Blosc 0-9); default 4 for gzip, 5 for LZ4, 1 for Zstd.
    shuffle : {"bit", "byte"}
        Blosc's pre-filter for ``fast``: bit shuffle suits int16 neural data best (measured in
        ``docs/continuous-data.md``).

    Raises
    ------
    ValueError
        For an unknown preset, backend or codec.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown compression preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if backend not in ("hdf5", "zarr"):
        raise ValueError(f"backend must be 'hdf5' or 'zarr', not {backend!r}")
    if codec not in DEFAULT_BLOSC_LEVEL:
        raise ValueError(f"codec must be one of {tuple(DEFAULT_BLOSC_LEVEL)}, not {codec!r}")
    if shuffle not in _BLOSC_SHUFFLE:
        raise ValueError(f"shuffle must be one of {tuple(_BLOSC_SHUFFLE)}, not {shuffle!r}")
    if preset == "none":
        return None, None
    if preset == "default":
        gzip = {"level": DEFAULT_GZIP_LEVEL if level is None else level}
        if dataset_name == "timestamps":
            return ["shuffle", "gzip"], [None, gzip]
        return ["gzip"], [gzip]
    blosc = {
        "cname": codec,
        "clevel": DEFAULT_BLOSC_LEVEL[codec] if level is None else level,
        "shuffle": _BLOSC_SHUFFLE[shuffle],
    }
    return ["Blosc" if backend == "hdf5" else "blosc"], [blosc]


def set_blosc_threads(threads: int | None = None) -> int:
    """Let Blosc compress with ``threads`` threads (default: every CPU, unless ``BLOSC_NTHREADS`` is set).

    The HDF5 Blosc filter reads ``BLOSC_NTHREADS`` from the environment at every call; numcodecs (Zarr) is set
    directly. Returns the thread count in effect.
    """
    if threads is None:
        threads = int(os.environ.get(BLOSC_THREADS_VARIABLE) or os.cpu_count() or 1)
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    os.environ[BLOSC_THREADS_VARIABLE] = str(threads)
    from numcodecs import blosc

    blosc.set_nthreads(threads)
    return threads


def parse_compression(text: str) -> tuple[CompressionPreset, BloscCodec, int | None]:
    """Read ``default``, ``fast``, ``none`` or ``<codec>[:level]`` (``gzip``, ``lz4``, ``zstd``) as a preset.

    ``gzip:9`` is the ``default`` preset at level 9; ``lz4``/``zstd[:level]`` are the ``fast`` preset with that
    Blosc codec. Returns ``(preset, codec, level)`` for :func:`apply_compression_preset`.

    Raises
    ------
    ValueError
        For anything else, listing what is accepted.
    """
    name, _, level_text = text.strip().lower().partition(":")
    accepted = "default, fast, none, or gzip/lz4/zstd with an optional :level (e.g. zstd:3, gzip:9)"
    try:
        level = int(level_text) if level_text else None
    except ValueError:
        raise ValueError(f"compression '{text}': the level must be an integer; use {accepted}.") from None
    if name in ("default", "fast", "none") and (level is None or name != "none"):
        return name, "lz4", level
    if name == "gzip":
        return "default", "lz4", level
    if name in ("lz4", "zstd"):
        return "fast", name, level
    raise ValueError(f"unknown compression '{text}'; use {accepted}.")


def apply_compression_preset(
    backend_configuration: HDF5BackendConfiguration | ZarrBackendConfiguration,
    preset: CompressionPreset = "fast",
    *,
    codec: BloscCodec = "lz4",
    level: int | None = None,
    shuffle: BloscShuffle = "bit",
    min_size_mb: float = 0.0,
    threads: int | None = None,
) -> HDF5BackendConfiguration | ZarrBackendConfiguration:
    """Set the compressors of every dataset of at least ``min_size_mb`` to a preset (in place; also returned).

    Parameters
    ----------
    backend_configuration : HDF5BackendConfiguration or ZarrBackendConfiguration
        From ``get_default_backend_configuration(nwbfile, backend=...)``; chunk and buffer shapes are kept.
    preset : {"default", "fast", "none"}
        See the module documentation.
    codec : {"lz4", "zstd"}
        Blosc compressor of the ``fast`` preset: LZ4 is the fastest, Zstd compresses more.
    level : int, optional
        Compression level; default see :func:`compression_settings`.
    shuffle : {"bit", "byte"}
        Blosc's pre-filter for ``fast``.
    min_size_mb : float
        Only datasets at least this large (uncompressed) change; smaller ones keep their settings. 0: all.
        ``fast`` leaves text datasets (electrode locations, tags) at their settings: Blosc cannot take them.
    threads : int, optional
        Blosc threads for ``fast`` (see :func:`set_blosc_threads`); default every CPU unless
        ``BLOSC_NTHREADS`` is set.

    Returns
    -------
    HDF5BackendConfiguration or ZarrBackendConfiguration
        The same object, edited.
    """
    backend = backend_configuration.backend
    for dataset in backend_configuration.dataset_configurations.values():
        if dataset.full_size_in_bytes < min_size_mb * 1e6:
            continue
        if preset == "fast" and dataset.dtype.kind not in _BLOSC_KINDS:
            continue  # the HDF5 Blosc filter cannot take variable-length strings (it crashes the process)
        compressors, options = compression_settings(
            preset, backend, dataset.dataset_name, codec, level, shuffle
        )
        # Assignment is validated field by field: clear the options before changing the compressors.
        dataset.compressor_options = None
        dataset.compressors = compressors
        dataset.compressor_options = options
    if preset == "fast":
        set_blosc_threads(threads)
    return backend_configuration
