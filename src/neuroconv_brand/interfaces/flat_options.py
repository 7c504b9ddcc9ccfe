"""Flat conversion options: ``{"stub_test": True}`` given to a converter applies to every interface taking it.

NeuroConv keys a converter's conversion options by interface name. Its YAML runner, and users of a converter of
many streams, also give options that hold for every stream (``stub_test``); :func:`expand_flat_options` turns
those into per-interface options (a value given for one interface wins over the flat one).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

from neuroconv import BaseDataInterface

from ..errors import ConfigurationError

#: Options of the interface classes whose schema comes from ``add_to_nwbfile``'s signature alone (NeuroConv's
#: default): the same for every instance, and a few milliseconds to derive, several times per conversion.
_OPTIONS_OF_CLASS: dict[type, dict[str, dict]] = {}


def accepted_options(interface: BaseDataInterface) -> dict[str, dict]:
    """The options ``interface.add_to_nwbfile`` takes, with their JSON schemas (a copy the caller may change)."""
    cls = type(interface)
    if cls.get_conversion_options_schema is not BaseDataInterface.get_conversion_options_schema:
        return dict(interface.get_conversion_options_schema().get("properties", {}))  # may vary per instance
    if cls not in _OPTIONS_OF_CLASS:
        _OPTIONS_OF_CLASS[cls] = interface.get_conversion_options_schema().get("properties", {})
    return copy.deepcopy(_OPTIONS_OF_CLASS[cls])


def flat_options_schema(interfaces: Mapping[str, BaseDataInterface]) -> dict[str, dict]:
    """Schema properties of the options some interface takes, under names no interface has."""
    properties: dict[str, dict] = {}
    for interface in interfaces.values():
        for name, schema in accepted_options(interface).items():
            if name not in interfaces and name not in properties:
                properties[name] = {**schema, "description": "Given to every interface that takes it."}
    return properties


def expand_flat_options(
    interfaces: Mapping[str, BaseDataInterface], options: Mapping | None
) -> dict[str, dict]:
    """Per-interface options from ``options``, whose keys are interface names or flat option names.

    Raises
    ------
    ConfigurationError
        For a flat option no interface takes.
    """
    options = dict(options or {})
    flat = {key: value for key, value in options.items() if key not in interfaces}
    expanded = {name: dict(options.get(name) or {}) for name in interfaces}
    for key, value in flat.items():
        takers = [name for name, interface in interfaces.items() if key in accepted_options(interface)]
        if not takers:
            raise ConfigurationError(
                f"conversion option '{key}' is neither an interface name ({', '.join(interfaces)}) nor an option "
                "any interface takes; remove or rename it."
            )
        for name in takers:
            expanded[name].setdefault(key, value)
    return {name: values for name, values in expanded.items() if values}
