"""Make this package's interfaces and converters resolvable by name, here and in NeuroConv's own YAML runner.

NeuroConv's ``run_conversion_from_yaml`` looks interface names up as attributes of
``neuroconv.datainterfaces`` only. :func:`register_with_neuroconv` adds this package's classes there (and to
the lists behind ``neuroconv.get_format_summaries``), so that after ``import neuroconv_brand`` a stock
specification can say ``data_interfaces: {brand: BrandConverter}``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from types import ModuleType

from neuroconv import BaseDataInterface, NWBConverter

_PACKAGE = "neuroconv_brand"


def _is_usable_class(candidate: object) -> bool:
    return (
        inspect.isclass(candidate)
        and issubclass(candidate, BaseDataInterface | NWBConverter)
        and candidate.__module__.split(".")[0] == _PACKAGE
        and not inspect.isabstract(candidate)
    )


def brand_classes() -> dict[str, type]:
    """Every concrete interface and converter class this package exports, by class name.

    Discovered at call time from the top-level ``neuroconv_brand`` namespace, every module of
    ``neuroconv_brand.interfaces`` and the ``type_nwb`` registry, so interfaces added later are found without
    being listed here. Abstract bases (``BrandStreamInterface``) are left out.

    Returns
    -------
    dict
        Class name -> class, sorted by name.
    """
    import neuroconv_brand
    import neuroconv_brand.interfaces as interfaces
    from neuroconv_brand.interfaces.registry import INTERFACE_BY_TYPE_NWB

    modules: list[ModuleType] = [neuroconv_brand, interfaces]
    modules += [
        importlib.import_module(f"{interfaces.__name__}.{info.name}")
        for info in pkgutil.iter_modules(interfaces.__path__)
    ]
    candidates = [value for module in modules for value in vars(module).values()]
    candidates += list(INTERFACE_BY_TYPE_NWB.values())
    found = {candidate.__name__: candidate for candidate in candidates if _is_usable_class(candidate)}
    return dict(sorted(found.items()))


def _same_class(first: type, second: type) -> bool:
    # A reloaded module makes a new class object with the same identity; treat it as the same registration.
    return first is second or (first.__module__, first.__qualname__) == (
        second.__module__,
        second.__qualname__,
    )


def _add_to_list(registry: list, cls: type) -> None:
    for position, existing in enumerate(registry):
        if _same_class(existing, cls):
            registry[position] = cls
            return
    registry.append(cls)


def register_with_neuroconv() -> list[str]:
    """Make this package's classes attributes of ``neuroconv.datainterfaces``; safe to call any number of times.

    Interfaces are appended to ``neuroconv.datainterfaces.interface_list`` and converters to
    ``neuroconv.converters.converter_list`` (what ``neuroconv.get_format_summaries`` lists); converters are
    also set on ``neuroconv.converters``. A name that NeuroConv itself already uses for another class is left
    alone, with a warning.

    Returns
    -------
    list of str
        The names registered (including ones already registered by an earlier call).
    """
    import neuroconv.converters as neuroconv_converters
    import neuroconv.datainterfaces as neuroconv_interfaces

    registered = []
    for name, cls in brand_classes().items():
        existing = getattr(neuroconv_interfaces, name, None)
        if existing is not None and not (inspect.isclass(existing) and _same_class(existing, cls)):
            warnings.warn(
                f"neuroconv.datainterfaces already has '{name}' ({existing!r}); neuroconv_brand's {name} is not "
                "registered under that name. Use 'neuroconv_brand.<module>:Class' in the neuroconv-brand runner.",
                stacklevel=2,
            )
            continue
        setattr(neuroconv_interfaces, name, cls)
        if issubclass(cls, NWBConverter):
            setattr(neuroconv_converters, name, cls)
            _add_to_list(neuroconv_converters.converter_list, cls)
        else:
            _add_to_list(neuroconv_interfaces.interface_list, cls)
        registered.append(name)
    return registered
