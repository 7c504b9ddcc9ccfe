"""Make this package's interfaces and converters resolvable by name, here and in NeuroConv's own YAML runner.

NeuroConv's ``run_conversion_from_yaml`` looks interface names up as attributes of
``neuroconv.datainterfaces`` only. :func:`register_with_neuroconv` adds this package's classes there (and to
the lists behind ``neuroconv.get_format_summaries``), so that after ``import neuroconv_brand`` a stock
specification can say ``data_interfaces: {brand: BrandConverter}``.

``import neuroconv_brand`` must not import NeuroConv (the command line starts in a fraction of a second), so it
calls :func:`register_when_neuroconv_loads`, which registers once ``neuroconv.datainterfaces`` has been
imported, by whoever imports it. This module imports NeuroConv and the package's classes only inside functions.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import inspect
import sys
import warnings
from types import ModuleType

#: The NeuroConv module whose attributes NeuroConv's runner resolves interface names with.
NEUROCONV_INTERFACES = "neuroconv.datainterfaces"
#: The names of :data:`brand_classes`, known without importing them (a test checks the two agree).
REGISTERED_NAMES: tuple[str, ...] = (
    "BrandConverter",
    "BrandParticipantInterface",
    "BrandPositionInterface",
    "BrandRecordingInterface",
    "BrandSpikeTimesInterface",
    "BrandStreamTimestampsInterface",
    "BrandTimeSeriesInterface",
    "BrandTrialInfoInterface",
    "BrandTrialsInterface",
)


def brand_classes() -> dict[str, type]:
    """Every concrete interface and converter class this package exports, by name.

    The converter and the interfaces ``neuroconv_brand.interfaces`` lists in ``__all__`` (its abstract base left
    out): what is registered with NeuroConv under each class name.

    Returns
    -------
    dict
        Class name -> class, sorted by name.
    """
    from .. import interfaces
    from ..converter import BrandConverter

    classes = [BrandConverter, *(getattr(interfaces, name) for name in interfaces.__all__)]
    concrete = [cls for cls in classes if not inspect.isabstract(cls)]
    return {cls.__name__: cls for cls in sorted(concrete, key=lambda cls: cls.__name__)}


def brand_class(name: str) -> type:
    """The class of :data:`REGISTERED_NAMES` called ``name``, importing only what that class needs.

    ``BrandRecordingInterface`` loads SpikeInterface; the others do not, so naming them costs no raw-data stack.

    Raises
    ------
    AttributeError
        When ``name`` is not one of :data:`REGISTERED_NAMES`.
    """
    from .. import interfaces

    if name == "BrandConverter":
        from ..converter import BrandConverter

        return BrandConverter
    return getattr(interfaces, name)


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
    from neuroconv import NWBConverter

    registered = []
    for name, cls in brand_classes().items():
        existing = vars(neuroconv_interfaces).get(name)  # not getattr: that would resolve the name here
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


def register_when_neuroconv_loads() -> None:
    """Register this package's classes with NeuroConv once ``neuroconv.datainterfaces`` is imported.

    If it already is, its missing attributes resolve this package's class names from now on; otherwise the
    same happens right after the first import of it (a one-time import hook). The classes are registered
    (:func:`register_with_neuroconv`) at once when that is safe, else at the first look-up of one of their names,
    so that a NeuroConv import made while this package's or NeuroConv's modules are half-imported never
    re-enters them.
    Costs nothing until then, and never imports NeuroConv itself.
    """
    module = sys.modules.get(NEUROCONV_INTERFACES)
    if module is not None:
        _resolve_names_on(module)
    elif not any(isinstance(finder, _AfterNeuroConvInterfaces) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterNeuroConvInterfaces())


def _resolve_names_on(module: ModuleType) -> None:
    """Give ``module`` a PEP 562 ``__getattr__`` for :data:`REGISTERED_NAMES`, and register now if safe."""
    previous = module.__dict__.get("__getattr__")

    def resolve(name: str):
        if name in REGISTERED_NAMES:
            register_with_neuroconv()
            if name in module.__dict__:
                return module.__dict__[name]
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {module.__name__!r} has no attribute {name!r}")

    if getattr(previous, "__qualname__", "") != resolve.__qualname__:  # once per module
        module.__getattr__ = resolve
    if not _half_imported(besides=module.__name__):
        register_with_neuroconv()


def _half_imported(besides: str) -> bool:
    """True while a module of this package or of NeuroConv (other than ``besides``) is being imported.

    Registering then would import it again half-way (a circular import): the names resolve at their first
    look-up instead.
    """
    packages = (f"{__name__.partition('.')[0]}.", "neuroconv.")
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name.startswith(packages) and name != besides
    )


class _AfterNeuroConvInterfaces(importlib.abc.MetaPathFinder):
    """Runs :func:`_resolve_names_on` on ``neuroconv.datainterfaces`` right after its first import; then leaves."""

    def find_spec(self, fullname, path, target=None):
        if fullname != NEUROCONV_INTERFACES:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _ThenResolveNames(spec.loader)
        return spec


class _ThenResolveNames(importlib.abc.Loader):
    """Loads the module with its own loader, then resolves this package's names on it."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # the module keeps its real loader
        self.loader.exec_module(module)
        _resolve_names_on(module)
