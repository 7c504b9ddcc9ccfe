"""The BRAND supergraph of any era, parsed into one :class:`~neuroconv_brand.graph.stream_specs.StreamSpec` per stream.

:meth:`Graph.from_supergraph` reads the exportNWB configuration (:mod:`.graph_eras`), finds each stream's
definition (the supergraph's compiled ``streams``, else the writing node's YAML, :mod:`.node_yaml`),
substitutes ``$param`` expressions (:mod:`.param_expressions`) and decides whether the stream is exported.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import GraphError
from .eras import Era, ExportConfig, ExportRequest, normalize_nodes, read_export_config
from .node_yaml import DefinitionFinder, NodeYamlStore, StreamDefinition, node_base_name
from .param_expressions import resolve_dimension, resolve_sample_type
from .stream_specs import KeySpec, StreamSpec, SyncTiming, normalize_type_nwb

#: Nodes whose ``samples`` payload is channel-major (C-order ``[chan, samp]``: ``samples[ch * samp_per_stream + k]``,
#: as brand-nsp's cerebusAdapter/cerebusAdapterGem write it and re_reference keeps it).
CHANNEL_MAJOR_NODES = frozenset({"cerebusAdapter", "cerebusAdapterGem", "re_reference"})
#: Node-YAML stream names whose ``samples`` payload is channel-major.
CHANNEL_MAJOR_YAML_STREAMS = frozenset({"ContinuousNeural", "rerefContinuousNeural"})
_LAYOUTS = ("sample-major", "channel-major")
#: Entries of a stream definition that are not key definitions.
_NON_KEY_ENTRIES = frozenset({"enable_nwb", "type_nwb", "source_nickname", "sync", "last_id"})
_KEY_FIELDS = ("chan_per_stream", "samp_per_stream", "sample_type")


@dataclass(frozen=True)
class Graph:
    """What a BRAND supergraph says about a session and each of its streams.

    Build it with :meth:`from_supergraph` or :meth:`from_json`.

    Attributes
    ----------
    era : {"2022-07", "2022-core", "2023", "2024", "2025"}
        The supergraph layout (see :mod:`neuroconv_brand.graph.eras`).
    graph_name : str or None
        The graph file stem.
    graph_loaded_ts : int or None
        ``time.monotonic_ns()`` at loadGraph, on the same clock as the streams' ``ts`` fields.
    participant_id : str or None
        The graph-level participant id, when the supergraph carries one.
    export_parameters : dict
        The exportNWB derivative's ``parameters`` ({} without one).
    derivative_name : str or None
        Key of the derivative used as exportNWB (None when the graph has none).
    participant_file, devices_file : str or None
        Paths as written in the graph (relative paths are relative to the BRAND base directory).
    description : str or None
        Session description (exportNWB ``description``; 2022-07 ``metadata.session_description``).
    sync_key, time_key : str
        Field names of the sync label and the monotonic timestamp.
    sync_timing : SyncTiming
        Sync label rates (``sync_timing_hz``).
    streams : dict
        One :class:`StreamSpec` per stream the graph knows: exportNWB's list first, then every other stream
        written by a node (not enabled, with the reason).
    nodes : dict
        The supergraph's nodes, {nickname: node settings}, as recorded.
    problems : list of str
        Non-fatal findings a user should see (missing node YAMLs, ignored settings, ...).
    node_yaml_files : tuple of Path
        The node YAMLs the stream definitions were read from.
    """

    era: Era
    graph_name: str | None = None
    graph_loaded_ts: int | None = None
    participant_id: str | None = None
    export_parameters: dict = field(default_factory=dict)
    derivative_name: str | None = None
    participant_file: str | None = None
    devices_file: str | None = None
    description: str | None = None
    sync_key: str = "sync"
    time_key: str = "ts"
    sync_timing: SyncTiming = field(default_factory=SyncTiming)
    streams: dict[str, StreamSpec] = field(default_factory=dict)
    nodes: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    node_yaml_files: tuple[Path, ...] = ()

    @property
    def enabled_streams(self) -> dict[str, StreamSpec]:
        """The streams whose effective export switch is on."""
        return {name: spec for name, spec in self.streams.items() if spec.enabled}

    def get_stream(self, name: str) -> StreamSpec:
        """Return the spec of stream ``name``; raise :class:`GraphError` listing the streams otherwise."""
        if name not in self.streams:
            known = ", ".join(sorted(self.streams)) or "none"
            raise GraphError(f"stream '{name}' is not in the graph; streams the graph knows: {known}.")
        return self.streams[name]

    @classmethod
    def from_supergraph(
        cls,
        model: Mapping[str, Any],
        brand_base_dir: str | Path | None = None,
        node_yaml_paths: Mapping[str, str | Path] | None = None,
        derivative: str | None = None,
    ) -> Graph:
        """Parse a supergraph ("model") of any BRAND era.

        Parameters
        ----------
        model : Mapping
            The decoded JSON of the latest ``supergraph_stream`` entry (a graph YAML's content also works).
        brand_base_dir : str or Path, optional
            The BRAND checkout the session ran from (``$BRAND_BASE_DIR``). Needed, unless ``node_yaml_paths``
            covers the nodes, when the supergraph carries no compiled stream definitions (eras before 2025).
        node_yaml_paths : Mapping, optional
            Explicit node YAML paths keyed by node name or nickname; they win over ``brand_base_dir``.
        derivative : str, optional
            Key, nickname or name of the derivative that holds the exportNWB configuration; by default the
            one called ``exportNWB`` or ``exportNWB.py``.

        Returns
        -------
        Graph

        Raises
        ------
        GraphError
            When the supergraph, the exportNWB configuration or the definition of an enabled stream cannot
            be interpreted; the message names the node, stream, key or file and what to do.
        """
        if not isinstance(model, Mapping):
            raise GraphError(f"a supergraph must be a JSON object, got {type(model).__name__}")
        problems: list[str] = []
        nodes = normalize_nodes(model)
        config = read_export_config(model, nodes, derivative, problems)
        store = NodeYamlStore(brand_base_dir, node_yaml_paths)
        _check_explicit_paths(store, nodes, problems)
        builder = _StreamBuilder(model, nodes, config, store, problems)
        streams = {name: builder.build(name) for name in builder.stream_names()}
        _check_trial_streams(streams, problems)
        return cls(
            era=config.era,
            graph_name=config.graph_name,
            graph_loaded_ts=_loaded_ts(model.get("graph_loaded_ts"), problems),
            participant_id=config.participant_id,
            export_parameters=config.parameters,
            derivative_name=config.derivative_name,
            participant_file=config.participant_file,
            devices_file=config.devices_file,
            description=config.description,
            sync_key=config.sync_key,
            time_key=config.time_key,
            sync_timing=config.sync_timing,
            streams=streams,
            nodes=nodes,
            problems=problems,
            node_yaml_files=store.files_read,
        )

    @classmethod
    def from_json(
        cls,
        text: str | bytes,
        brand_base_dir: str | Path | None = None,
        node_yaml_paths: Mapping[str, str | Path] | None = None,
        derivative: str | None = None,
    ) -> Graph:
        """Parse the JSON text of a ``supergraph_stream`` entry's ``data`` field.

        See :meth:`from_supergraph` for the other parameters.

        Raises
        ------
        GraphError
            If the text is not valid JSON, and as :meth:`from_supergraph`.
        """
        try:
            model = json.loads(text)
        except (ValueError, TypeError) as error:
            raise GraphError(
                f"the supergraph is not valid JSON ({error}); is this a supergraph_stream 'data' field?"
            ) from None
        return cls.from_supergraph(model, brand_base_dir, node_yaml_paths, derivative)


def _loaded_ts(value: Any, problems: list[str]) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        problems.append(f"supergraph graph_loaded_ts {value!r} is not an integer number of ns; ignored")
        return None


def _check_explicit_paths(store: NodeYamlStore, nodes: Mapping[str, dict], problems: list[str]) -> None:
    known = set(nodes)
    for node in nodes.values():
        known.update(name for name in (node.get("name"), node_base_name(node)) if isinstance(name, str))
    for key in store.node_yaml_paths:
        if key not in known:
            problems.append(
                f"node_yaml_paths entry '{key}' matches no node name or nickname in the graph; unused"
            )


def _check_trial_streams(streams: Mapping[str, StreamSpec], problems: list[str]) -> None:
    trials = [name for name, spec in streams.items() if spec.enabled and spec.type_nwb == "Trial"]
    infos = [name for name, spec in streams.items() if spec.enabled and spec.type_nwb == "TrialInfo"]
    if len(trials) > 1:
        problems.append(
            f"several enabled Trial streams ({', '.join(trials)}); an NWB file has one trials table"
        )
    if infos and not trials:
        problems.append(
            f"TrialInfo streams ({', '.join(infos)}) are enabled but no Trial stream defines trials"
        )


class _StreamBuilder:
    """Builds the StreamSpecs of one supergraph; collects non-fatal findings in ``problems``."""

    def __init__(
        self,
        model: Mapping[str, Any],
        nodes: Mapping[str, dict],
        config: ExportConfig,
        store: NodeYamlStore,
        problems: list[str],
    ) -> None:
        self.nodes = nodes
        self.config = config
        self.problems = problems
        compiled = model.get("streams") if isinstance(model.get("streams"), dict) else {}
        self.finder = DefinitionFinder(nodes, compiled, store, problems)

    def stream_names(self) -> list[str]:
        """List exportNWB's streams, then compiled definitions, then every other stream a node writes."""
        return list(dict.fromkeys([*self.config.requests, *self.finder.compiled, *self.finder.writers]))

    def build(self, stream: str) -> StreamSpec:
        request = self.config.requests.get(stream)
        definition = (
            self.finder.find(stream, request.source_node, request.yaml_stream)
            if request is not None
            else self.finder.find(stream)
        )
        if request is not None and definition.body is None:
            self.problems.append(definition.detail)
        enabled, reason = self._decide(stream, request, definition)
        try:
            type_nwb, keys = self._parse(stream, request, definition)
        except GraphError as error:
            if enabled:
                raise
            self.problems.append(f"{error} (not exported: {reason})")
            type_nwb, keys = None, {}
        sync_labels = self._sync_labels(stream, request, definition, enabled)
        if enabled and not any(key.exported for key in keys.values()):
            self.problems.append(
                f"stream '{stream}' is enabled but none of its keys has an nwb block; nothing to export"
            )
        return StreamSpec(
            name=stream,
            type_nwb=type_nwb,
            enabled=enabled,
            enable_reason=reason,
            keys=keys,
            sync_labels=sync_labels,
            rate=request.rate if request is not None else None,
            sync_key=self.config.sync_key,
            time_key=self.config.time_key,
            sync_timing=self.config.sync_timing,
            source_nickname=definition.nickname,
            comments=dict(request.comments) if request is not None else {},
        )

    # -- the export decision ------------------------------------------------------------------------

    def _decide(
        self, stream: str, request: ExportRequest | None, definition: StreamDefinition
    ) -> tuple[bool, str]:
        if self.config.derivative_name is None:
            return False, "no exportNWB derivative in the graph"
        if request is None:
            return False, self.config.unlisted_reason
        if definition.body is None:
            return False, definition.reason
        if definition.body.get("type_nwb") is None:
            return False, "stream definition has no type_nwb"
        if request.enable is not None:
            return request.enable, f"{self.config.enable_label}: {str(request.enable).lower()}"
        enable_nwb = definition.body.get("enable_nwb")
        if enable_nwb is None:
            return False, "stream definition has no enable_nwb and the graph sets no enable"
        if not isinstance(enable_nwb, bool):
            raise GraphError(
                f"{definition.describe(stream)}: enable_nwb must be true or false, got {enable_nwb!r}; "
                "fix the node YAML or set 'enable' for the stream in the graph"
            )
        return enable_nwb, f"node enable_nwb: {str(enable_nwb).lower()}"

    def _sync_labels(
        self, stream: str, request: ExportRequest | None, definition: StreamDefinition, enabled: bool
    ) -> list[str]:
        if request is not None and request.sync_labels:
            return list(request.sync_labels)
        # 2022-07 (and pre-2022-08 node YAMLs) declared the blocking label in the definition.
        labels = (definition.body or {}).get("sync")
        if isinstance(labels, str):
            return [labels]
        if isinstance(labels, list) and all(isinstance(label, str) for label in labels):
            return list(labels)
        if enabled:
            self.problems.append(
                f"stream '{stream}' has no sync labels in the graph (exportNWB requires 'sync'); "
                "its times must come from another clock"
            )
        return []

    # -- keys -----------------------------------------------------------------------------------------

    def _parse(
        self, stream: str, request: ExportRequest | None, definition: StreamDefinition
    ) -> tuple[str | None, dict[str, KeySpec]]:
        if definition.body is None:
            return None, {}
        where = definition.describe(stream)
        try:
            type_nwb = normalize_type_nwb(definition.body.get("type_nwb"))
        except ValueError as error:
            raise GraphError(f"{where}: {error}; fix type_nwb") from None
        parameters = self._node_parameters(definition.nickname)
        declared = {
            str(name): entry
            for name, entry in definition.body.items()
            if name not in _NON_KEY_ENTRIES and isinstance(entry, dict)
        }
        key_map = request.key_map if request is not None else {}
        if not key_map and request is not None and self.config.era == "2022-core":
            self.problems.append(
                f"stream '{stream}': the exportNWB config maps no keys (<graph key>: <node YAML key>); "
                "BRAND's exportNWB exported none, this converter exports every key with an nwb block"
            )
        keys: dict[str, KeySpec] = {}
        for graph_key, node_key in key_map.items():
            if node_key not in declared:
                available = ", ".join(declared) or "none"
                raise GraphError(
                    f"{where}: exportNWB maps graph key '{graph_key}' to node YAML key '{node_key}', "
                    f"which the definition does not declare (it declares: {available}); fix the mapping"
                )
            keys[graph_key] = self._key(
                graph_key, node_key, declared[node_key], where, parameters, definition
            )
        mapped = set(key_map.values())
        for node_key, entry in declared.items():
            if node_key in mapped or node_key in keys:
                continue
            spec = self._key(node_key, node_key, entry, where, parameters, definition)
            if spec is not None:
                # With a key mapping, only mapped keys are exported (2022-core rule).
                keys[node_key] = replace(spec, nwb=None) if key_map else spec
        return type_nwb, {name: spec for name, spec in keys.items() if spec is not None}

    def _node_parameters(self, nickname: str | None) -> dict:
        if nickname is None or nickname not in self.nodes:
            return {}
        parameters = self.nodes[nickname].get("parameters") or {}
        if not isinstance(parameters, dict):
            raise GraphError(f"node '{nickname}' parameters must be a mapping, got {parameters!r}")
        return parameters

    def _key(
        self,
        name: str,
        node_key: str,
        entry: dict,
        where: str,
        parameters: dict,
        definition: StreamDefinition,
    ) -> KeySpec | None:
        key_where = f"{where}, key '{node_key}'"
        missing = [field_name for field_name in _KEY_FIELDS if entry.get(field_name) is None]
        if missing:
            fields = ", ".join(missing)
            if "nwb" in entry:
                raise GraphError(f"{key_where}: the definition has no {fields}; add it to the node YAML")
            if len(missing) < len(_KEY_FIELDS):
                self.problems.append(f"{key_where}: the definition has no {fields}; key left out")
            return None
        # A bare `nwb:` (YAML null) still marks the key as exported, as in exportNWB.
        nwb = None
        if "nwb" in entry:
            nwb = {} if entry["nwb"] is None else entry["nwb"]
            if not isinstance(nwb, dict):
                raise GraphError(f"{key_where}: 'nwb' must be a mapping of NWB settings, got {nwb!r}")
        return KeySpec(
            name=name,
            chan=resolve_dimension(entry["chan_per_stream"], parameters, f"{key_where}, chan_per_stream"),
            samp=resolve_dimension(entry["samp_per_stream"], parameters, f"{key_where}, samp_per_stream"),
            dtype=resolve_sample_type(entry["sample_type"], parameters, f"{key_where}, sample_type"),
            layout=self._layout(node_key, entry, key_where, definition),
            nwb=None if nwb is None else dict(nwb),
        )

    @staticmethod
    def _layout(node_key: str, entry: dict, key_where: str, definition: StreamDefinition) -> str:
        layout = entry.get("layout")
        if layout is not None:
            if layout not in _LAYOUTS:
                raise GraphError(
                    f"{key_where}: layout must be 'sample-major' or 'channel-major', got {layout!r}"
                )
            return layout
        acquisition = (
            definition.node_name in CHANNEL_MAJOR_NODES
            or definition.yaml_stream in CHANNEL_MAJOR_YAML_STREAMS
        )
        return "channel-major" if node_key == "samples" and acquisition else "sample-major"
