"""neuroconv-brand: convert BRAND sessions (Redis streams or dump.rdb) to NWB with NeuroConv.

The public names below are imported on first use (PEP 562 module ``__getattr__``), so ``import neuroconv_brand``
and the ``neuroconv-brand`` command start without loading NeuroConv, pynwb or SpikeInterface.
"""

from importlib import import_module

from .apps.command_line import installed_version
from .apps.neuroconv_registration import REGISTERED_NAMES, register_when_neuroconv_loads

#: Where each public name lives: module (relative to this package) -> names.
_PUBLIC_NAMES: dict[str, tuple[str, ...]] = {
    ".apps.yaml_runner": ("run_conversion_from_yaml",),
    ".converter": ("BrandConverter",),
    ".errors": (
        "BrandError",
        "ConfigurationError",
        "GraphError",
        "MetadataFileError",
        "NoSupergraphError",
        "RdbFileError",
        "RedisServerNotFoundError",
        "SourceAuthenticationError",
        "SourceConnectionError",
        "SourceError",
        "StreamDecodeError",
        "UnsupportedEncodingError",
    ),
    ".extractors.recording_extractor": ("BrandRecordingExtractor", "RecordingGap", "read_brand"),
    ".extractors.sorting_extractor": ("BrandSortingExtractor",),
    ".graph.stream_specs": ("KeySpec", "StreamSpec", "SyncTiming"),
    ".graph.supergraph": ("Graph",),
    # every concrete interface, as registered with NeuroConv
    ".interfaces": tuple(name for name in REGISTERED_NAMES if name.endswith("Interface")),
    ".nwb.compression_presets": ("apply_compression_preset",),
    ".reading.stream_reader": ("EntryBatch", "StreamReader"),
    ".sources.session": ("BrandSession",),
}
_MODULE_OF = {name: module for module, names in _PUBLIC_NAMES.items() for name in names}

__all__ = sorted([*_MODULE_OF, "__version__"])


def __getattr__(name: str):
    if name == "__version__":
        value = installed_version()
    elif name in _MODULE_OF:
        value = getattr(import_module(_MODULE_OF[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# NeuroConv's own YAML runner looks interfaces up on neuroconv.datainterfaces: make ours resolvable there as
# soon as NeuroConv loads that module (now, if it already has), without importing NeuroConv here.
register_when_neuroconv_loads()
