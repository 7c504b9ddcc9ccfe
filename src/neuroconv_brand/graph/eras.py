"""The exportNWB configuration of a supergraph, read the same way for every BRAND era.

Eras (the supergraph BRAND's supervisor builds, and where its graph YAML keeps the exportNWB settings):

``2022-07``
    ``metadata`` block; derivative ``exportNWB`` with ``redis_inputs`` and ``parameters.enable_nwb``;
    node ``redis_outputs`` lists; sync labels in the node YAML; ``sync``/``ts`` keys and 1 kHz sync fixed.
``2022-core``
    ``parameters.streams[<graph stream>]`` with ``source_node`` (node *name*), ``name`` (the stream in the
    node YAML) and ``<graph key>: <node YAML key>`` mappings.
``2023``
    The 2023 release: ``derivatives`` maps a derivative key to its YAML value (built from a YAML list of
    single-key dicts); stream definitions come from node YAMLs.
``2024``
    Derivatives keyed by nickname with ``name``/``nickname``/``module``/``parameters``; stream definitions
    come from node YAMLs.
``2025``
    The Emory / 2025 supervisor: a compiled top-level ``streams`` dict (node-YAML definitions with ``$param``
    already substituted, plus ``source_nickname``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Literal

from ..errors import GraphError
from .stream_specs import SyncTiming

Era = Literal["2022-07", "2022-core", "2023", "2024", "2025"]

#: Names under which exportNWB is found when the caller does not name the derivative.
EXPORT_NWB_NAMES = ("exportNWB", "exportNWB.py")
#: Entries of an exportNWB stream configuration that are not ``<graph key>: <node key>`` mappings.
_REQUEST_FIELDS = frozenset({"enable", "sync", "rate", "comments", "source_node", "name"})
_DEFAULT_SYNC_KEY = "sync"
_DEFAULT_TIME_KEY = "ts"


@dataclass(frozen=True)
class ExportRequest:
    """What the exportNWB configuration says about one graph stream.

    Attributes
    ----------
    stream : str
        The graph stream name.
    enable : bool or None
        The graph-level ``enable`` (``parameters.enable_nwb[stream]`` in 2022-07), None when absent.
    sync_labels : list of str
        The graph ``sync`` labels, blocking label first (empty when absent).
    rate : float or None
        The graph ``rate`` in Hz.
    comments : dict
        The graph ``comments``.
    source_node : str or None
        2022-core: the *name* of the node writing the stream.
    yaml_stream : str or None
        2022-core: the stream's name in the node YAML (``name``).
    key_map : dict
        ``<graph key>: <node YAML key>`` mappings (2022-core); empty when the config maps no key.
    """

    stream: str
    enable: bool | None = None
    sync_labels: list[str] = field(default_factory=list)
    rate: float | None = None
    comments: dict = field(default_factory=dict)
    source_node: str | None = None
    yaml_stream: str | None = None
    key_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportConfig:
    """The graph-level exportNWB settings, normalised across eras."""

    era: Era
    derivative_name: str | None
    parameters: dict
    requests: dict[str, ExportRequest]
    sync_key: str
    time_key: str
    sync_timing: SyncTiming
    graph_name: str | None
    participant_id: str | None
    description: str | None
    participant_file: str | None
    devices_file: str | None
    #: How the graph-level switch is called in this era, for ``enable_reason``.
    enable_label: str = "graph enable"
    #: Why a stream that the configuration does not list is not exported.
    unlisted_reason: str = "not listed in exportNWB streams"


def normalize_nodes(model: Mapping[str, Any]) -> dict[str, dict]:
    """Return ``nodes`` as {nickname: node dict}; a graph-YAML list is keyed by nickname (else name)."""
    nodes = model.get("nodes")
    if nodes is None:
        return {}
    if isinstance(nodes, list):
        keyed: dict[str, dict] = {}
        for index, node in enumerate(nodes):
            if not isinstance(node, dict):
                raise GraphError(f"supergraph nodes[{index}] must be a mapping, got {node!r}")
            nickname = node.get("nickname", node.get("name"))
            if not isinstance(nickname, str):
                raise GraphError(f"supergraph nodes[{index}] has neither a 'nickname' nor a 'name'")
            keyed[nickname] = node
        return keyed
    if not isinstance(nodes, dict):
        raise GraphError(
            f"supergraph 'nodes' must map nicknames to node settings, got {type(nodes).__name__}"
        )
    for nickname, node in nodes.items():
        if not isinstance(node, dict):
            raise GraphError(f"supergraph node '{nickname}' must be a mapping, got {node!r}")
    return dict(nodes)


def normalize_derivatives(model: Mapping[str, Any]) -> dict[str, dict]:
    """Return ``derivatives`` as {key: settings}, from the dict form or a graph-YAML list.

    A list item is either a single-key dict (``- exportNWB: {parameters: ...}``) or a record with
    ``nickname``/``name`` (``- nickname: exportNWB``), keyed by nickname, else name.
    """
    derivatives = model.get("derivatives")
    if derivatives is None:
        return {}
    if isinstance(derivatives, dict):
        items = list(derivatives.items())
    elif isinstance(derivatives, list):
        items = []
        for index, item in enumerate(derivatives):
            if not isinstance(item, dict):
                raise GraphError(f"supergraph derivatives[{index}] must be a mapping, got {item!r}")
            entries = list(item.items())
            single_key = len(entries) == 1 and entries[0][0] not in ("name", "nickname")
            if single_key and isinstance(entries[0][1], dict | None):
                items.append(entries[0])  # `- exportNWB: {parameters: ...}`
                continue
            key = item.get("nickname", item.get("name"))
            if not isinstance(key, str):
                raise GraphError(
                    f"supergraph derivatives[{index}] must be '- <name>: {{settings}}' or a record with a "
                    f"'nickname' or 'name', got {item!r}"
                )
            items.append((key, item))
    else:
        raise GraphError(
            f"supergraph 'derivatives' must be a mapping or a list, got {type(derivatives).__name__}"
        )
    normalized: dict[str, dict] = {}
    for key, value in items:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise GraphError(f"supergraph derivative '{key}' must be a mapping, got {value!r}")
        normalized[str(key)] = value
    return normalized


def _derivative_names(key: str, settings: Mapping[str, Any]) -> set[str]:
    names = {key}
    for field_name in ("nickname", "name"):
        value = settings.get(field_name)
        if isinstance(value, str):
            names.add(value)
    return names


def find_export_derivative(derivatives: Mapping[str, dict], requested: str | None) -> tuple[str, dict] | None:
    """Find the exportNWB derivative by key, ``nickname`` or ``name``.

    Parameters
    ----------
    derivatives : Mapping
        Output of :func:`normalize_derivatives`.
    requested : str or None
        The caller's ``derivative=`` argument; None looks for ``exportNWB`` / ``exportNWB.py``.

    Raises
    ------
    GraphError
        If ``requested`` matches no derivative, or several derivatives match.
    """
    wanted = {requested} if requested is not None else set(EXPORT_NWB_NAMES)
    if requested is None and "exportNWB" in derivatives:
        return "exportNWB", derivatives["exportNWB"]  # exportNWB.py's own default nickname
    matches = [(key, value) for key, value in derivatives.items() if _derivative_names(key, value) & wanted]
    if len(matches) > 1:
        keys = ", ".join(key for key, _ in matches)
        raise GraphError(f"several derivatives look like exportNWB ({keys}); pass derivative=<one of them>")
    if matches:
        return matches[0]
    if requested is not None:
        known = ", ".join(derivatives) or "none"
        raise GraphError(f"the graph has no derivative named '{requested}' (derivatives: {known})")
    return None


def _uses_node_output_lists(nodes: Mapping[str, dict]) -> bool:
    return any(isinstance(node.get("redis_outputs"), list) for node in nodes.values())


def detect_era(model: Mapping[str, Any], nodes: Mapping[str, dict], derivative: dict | None) -> Era:
    """Tell which supergraph era ``model`` belongs to (see the module docstring)."""
    if isinstance(model.get("streams"), dict):
        return "2025"
    parameters = (derivative or {}).get("parameters") or {}
    if derivative is not None:
        if "redis_inputs" in derivative or isinstance(parameters.get("enable_nwb"), dict):
            return "2022-07"
        streams = parameters.get("streams")
        if isinstance(streams, dict) and any(
            isinstance(entry, dict) and ("source_node" in entry or "name" in entry)
            for entry in streams.values()
        ):
            return "2022-core"
    elif isinstance(model.get("metadata"), dict) or _uses_node_output_lists(nodes):
        return "2022-07"
    derivatives = model.get("derivatives")
    records = derivatives if isinstance(derivatives, list) else list((derivatives or {}).values())
    if any(isinstance(item, dict) and ("nickname" in item or "module" in item) for item in records):
        return "2024"
    if "brand_hash" in model or records:
        return "2023"
    return "2024"


def parse_sync_timing(value: Any) -> SyncTiming:
    """Read ``sync_timing_hz`` into a :class:`SyncTiming`.

    A number applies to every label. A dict gives per-label rates plus an optional ``default_sync_rate``.
    Missing (None), or a dict without ``default_sync_rate``, defaults to 1000 Hz as BRAND's documentation
    promises (exportNWB itself raised NameError there and ignored per-label rates; see
    ``docs/differences-from-exportnwb.md``).

    Raises
    ------
    GraphError
        If a rate is not a positive number.
    """
    if value is None:
        return SyncTiming()
    if isinstance(value, dict):
        rates = {
            str(label): _positive_rate(rate, f"sync_timing_hz['{label}']") for label, rate in value.items()
        }
        default = rates.pop("default_sync_rate", SyncTiming().default_rate)
        return SyncTiming(default_rate=default, label_rates=rates)
    return SyncTiming(default_rate=_positive_rate(value, "sync_timing_hz"))


def _positive_rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value) > 0:
        raise GraphError(f"exportNWB {what} must be a positive number of Hz, got {value!r}; fix the graph")
    return float(value)


def _text(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Real) and not isinstance(value, bool):
        return str(value)
    raise GraphError(f"{what} must be text, got {value!r}")


def _labels(value: Any, stream: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise GraphError(
        f"exportNWB stream '{stream}': 'sync' must be a label or a list of labels (blocking label first), "
        f"got {value!r}"
    )


def _enable(value: Any, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise GraphError(f"{what} must be true or false, got {value!r}")


def _request(stream: str, entry: Any, problems: list[str]) -> ExportRequest:
    if entry is None:
        entry = {}
    if not isinstance(entry, dict):
        raise GraphError(f"exportNWB stream '{stream}' must be a mapping of settings, got {entry!r}")
    rate = entry.get("rate")
    if rate is not None:
        rate = _positive_rate(rate, f"stream '{stream}' rate")
    comments = entry.get("comments") or {}
    if not isinstance(comments, dict):
        raise GraphError(f"exportNWB stream '{stream}': 'comments' must be a mapping, got {comments!r}")
    key_map: dict[str, str] = {}
    for name, value in entry.items():
        if name in _REQUEST_FIELDS:
            continue
        if isinstance(value, str):
            key_map[str(name)] = value
        else:
            problems.append(
                f"stream '{stream}': exportNWB setting '{name}: {value!r}' is not understood; ignored"
            )
    return ExportRequest(
        stream=stream,
        enable=_enable(entry.get("enable"), f"exportNWB stream '{stream}' 'enable'"),
        sync_labels=_labels(entry.get("sync"), stream),
        rate=rate,
        comments=dict(comments),
        source_node=_text(entry.get("source_node"), f"exportNWB stream '{stream}' 'source_node'"),
        yaml_stream=_text(entry.get("name"), f"exportNWB stream '{stream}' 'name'"),
        key_map=key_map,
    )


def _requests_2022_07(
    derivative: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, ExportRequest]:
    enables = parameters.get("enable_nwb") or {}
    if not isinstance(enables, dict):
        raise GraphError(f"exportNWB parameters.enable_nwb must map streams to true/false, got {enables!r}")
    inputs = derivative.get("redis_inputs", list(enables))
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not all(isinstance(name, str) for name in inputs):
        raise GraphError(f"exportNWB redis_inputs must be a stream name or a list of them, got {inputs!r}")
    return {
        name: ExportRequest(
            stream=name, enable=_enable(enables.get(name), f"exportNWB parameters.enable_nwb['{name}']")
        )
        for name in inputs
    }


def _requests(parameters: Mapping[str, Any], problems: list[str]) -> dict[str, ExportRequest]:
    streams = parameters.get("streams") or {}
    if not isinstance(streams, dict):
        raise GraphError(f"exportNWB parameters.streams must map graph streams to settings, got {streams!r}")
    return {str(name): _request(str(name), entry, problems) for name, entry in streams.items()}


def _key_name(parameters: Mapping[str, Any], name: str, default: str, problems: list[str]) -> str:
    value = parameters.get(name)
    if value is None:
        problems.append(f"exportNWB parameters have no '{name}'; using '{default}'")
        return default
    if not isinstance(value, str) or not value:
        raise GraphError(f"exportNWB parameters.{name} must be a field name, got {value!r}")
    return value


def read_export_config(
    model: Mapping[str, Any], nodes: Mapping[str, dict], requested: str | None, problems: list[str]
) -> ExportConfig:
    """Read the graph-level metadata and the exportNWB configuration of ``model``.

    Parameters
    ----------
    model : Mapping
        The supergraph.
    nodes : Mapping
        Output of :func:`normalize_nodes`.
    requested : str or None
        The derivative to use (None: exportNWB).
    problems : list of str
        Non-fatal findings are appended here.

    Raises
    ------
    GraphError
        For a malformed configuration.
    """
    found = find_export_derivative(normalize_derivatives(model), requested)
    derivative_name, derivative = found if found is not None else (None, None)
    era = detect_era(model, nodes, derivative)
    parameters = (derivative or {}).get("parameters") or {}
    if not isinstance(parameters, dict):
        raise GraphError(f"derivative '{derivative_name}' parameters must be a mapping, got {parameters!r}")
    metadata = model.get("metadata") if isinstance(model.get("metadata"), dict) else {}

    if era == "2022-07":
        requests = _requests_2022_07(derivative, parameters) if derivative is not None else {}
        sync_key, time_key, sync_timing = _DEFAULT_SYNC_KEY, _DEFAULT_TIME_KEY, SyncTiming()
    else:
        requests = _requests(parameters, problems)
        if derivative is not None:
            sync_key = _key_name(parameters, "sync_key", _DEFAULT_SYNC_KEY, problems)
            time_key = _key_name(parameters, "time_key", _DEFAULT_TIME_KEY, problems)
        else:
            sync_key, time_key = _DEFAULT_SYNC_KEY, _DEFAULT_TIME_KEY
        sync_timing = parse_sync_timing(parameters.get("sync_timing_hz"))

    return ExportConfig(
        era=era,
        derivative_name=derivative_name,
        parameters=dict(parameters),
        requests=requests,
        sync_key=sync_key,
        time_key=time_key,
        sync_timing=sync_timing,
        graph_name=_text(model.get("graph_name", metadata.get("graph_name")), "supergraph graph_name"),
        participant_id=_text(model.get("participant_id", metadata.get("participant_id")), "participant_id"),
        description=_text(
            parameters.get("description", metadata.get("session_description")), "exportNWB description"
        ),
        participant_file=_text(
            parameters.get("participant_file", metadata.get("participant_file")), "participant_file"
        ),
        devices_file=_text(parameters.get("devices_file"), "exportNWB devices_file"),
        enable_label="graph enable_nwb" if era == "2022-07" else "graph enable",
        unlisted_reason=(
            "not listed in exportNWB redis_inputs" if era == "2022-07" else "not listed in exportNWB streams"
        ),
    )
