"""Make this package's interfaces and converters resolvable by name, here and in NeuroConv's own YAML runner.

NeuroConv's ``run_conversion_from_yaml`` looks interface names up as attributes of
``neuroconv.datainterfaces`` only. :func:`register_with_neuroconv` adds this package's classes there (and to
the lists behind ``neuroconv.get_format_summaries``), so that after ``import neuroconv_brand`` a stock
specification can say ``data_interfaces: {brand: BrandConverter}``.
"""

from __future__ import annotations

import inspect
import warnings

from neuroconv import NWBConverter

from .. import interfaces
from ..converter import BrandConverter

#: Every concrete interface and converter of the package, registered with NeuroConv under its class name: the
#: converter, and the interfaces ``neuroconv_brand.interfaces`` lists in ``__all__`` (its abstract base left out).
REGISTERED_CLASSES: tuple[type, ...] = (
    BrandConverter,
    *(
        cls
        for cls in (getattr(interfaces, name) for name in interfaces.__all__)
        if not inspect.isabstract(cls)
    ),
)


def brand_classes() -> dict[str, type]:
    """Every concrete interface and converter class this package exports (:data:`REGISTERED_CLASSES`), by name.

    Returns
    -------
    dict
        Class name -> class, sorted by name.
    """
    return {cls.__name__: cls for cls in sorted(REGISTERED_CLASSES, key=lambda cls: cls.__name__)}


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
