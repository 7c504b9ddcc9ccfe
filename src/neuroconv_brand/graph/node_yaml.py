"""Find each stream's definition: the supergraph's compiled ``streams``, else the writing node's YAML.

A node's YAML lives at ``<BRAND base dir>/<module>/nodes/<name>/<name>.yaml`` (``module`` as written in the
graph, e.g. ``../brand-modules/brand-nsp``, relative to the BRAND checkout the supervisor ran from). Its
stream definitions sit under ``RedisStreams.Outputs`` (2022-07: ``RedisStreams.value.Outputs``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import GraphError

#: Suffixes that 2022-era graphs appended to node names (``func_generator.bin``).
_NAME_SUFFIXES = (".bin", ".py")


def node_base_name(node: Mapping[str, Any]) -> str | None:
    """Return the node's directory name: ``name`` without a ``.bin``/``.py`` suffix (None when absent)."""
    name = node.get("name")
    if not isinstance(name, str) or not name:
        return None
    for suffix in _NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class NodeYamlStore:
    """Locates node YAMLs (explicit paths first, then the BRAND base directory) and caches their outputs.

    Parameters
    ----------
    brand_base_dir : str or Path or None
        The BRAND checkout the session ran from (``$BRAND_BASE_DIR``); module paths resolve against it.
    node_yaml_paths : Mapping or None
        Explicit YAML paths keyed by node nickname or node name; they win over ``brand_base_dir``.
    """

    def __init__(
        self,
        brand_base_dir: str | Path | None = None,
        node_yaml_paths: Mapping[str, str | Path] | None = None,
    ) -> None:
        self.brand_base_dir = None if brand_base_dir is None else Path(brand_base_dir).expanduser()
        self.node_yaml_paths = {
            str(key): Path(path).expanduser() for key, path in (node_yaml_paths or {}).items()
        }
        self._outputs: dict[Path, dict[str, Any]] = {}

    def explicit_path(self, nickname: str, node: Mapping[str, Any]) -> Path | None:
        """Return the ``node_yaml_paths`` entry for this node (by nickname, then by name), if any."""
        for key in (nickname, node.get("name"), node_base_name(node)):
            if isinstance(key, str) and key in self.node_yaml_paths:
                return self.node_yaml_paths[key]
        return None

    def default_path(self, node: Mapping[str, Any]) -> Path | None:
        """Return ``<brand_base_dir>/<module>/nodes/<name>/<name>.yaml`` normalised; None without a base."""
        name = node_base_name(node)
        if self.brand_base_dir is None or name is None:
            return None
        module = node.get("module")
        module = "." if module in (None, "") else str(module)
        return Path(os.path.normpath(self.brand_base_dir / module / "nodes" / name / f"{name}.yaml"))

    def locate(self, nickname: str, node: Mapping[str, Any]) -> tuple[Path | None, str]:
        """Find the node's YAML file.

        Returns
        -------
        path : Path or None
            The existing file, or None.
        missing : str
            When ``path`` is None: why, including what to do (empty otherwise).

        Raises
        ------
        GraphError
            If an explicit ``node_yaml_paths`` entry points at a file that does not exist.
        """
        explicit = self.explicit_path(nickname, node)
        if explicit is not None:
            if not explicit.is_file():
                raise GraphError(
                    f"node_yaml_paths gives {explicit} for node '{nickname}' (name '{node.get('name')}'), "
                    "but that file does not exist; fix the path"
                )
            return explicit, ""
        name = node.get("name")
        default = self.default_path(node)
        if default is None:
            if node_base_name(node) is None:
                return (
                    None,
                    f"node '{nickname}' has no 'name' in the graph, so its node YAML cannot be located",
                )
            return None, (
                f"node YAML of node '{nickname}' (name '{name}', module '{node.get('module')}') not located; "
                "pass brand_base_dir (--brand-base-dir; the BRAND checkout the session ran from) or "
                f"node_yaml_paths={{'{name}': <path>}}"
            )
        if not default.is_file():
            return None, (
                f"node YAML not found at {default}; check brand_base_dir or pass "
                f"node_yaml_paths={{'{name}': <path>}}"
            )
        return default, ""

    def outputs(self, path: Path) -> dict[str, Any]:
        """Return the stream definitions (``RedisStreams.Outputs``) of a node YAML, cached by path.

        Raises
        ------
        GraphError
            If the file cannot be read or parsed, or its ``RedisStreams`` block has the wrong shape.
        """
        if path not in self._outputs:
            self._outputs[path] = _read_outputs(path)
        return self._outputs[path]


def _read_outputs(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GraphError(f"cannot read node YAML {path}: {error}") from None
    except yaml.YAMLError as error:
        raise GraphError(f"node YAML {path} is not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise GraphError(
            f"node YAML {path} must be a mapping at the top level, got {type(document).__name__}"
        )
    streams = document.get("RedisStreams")
    if streams is None:
        return {}
    if not isinstance(streams, dict):
        raise GraphError(f"node YAML {path}: 'RedisStreams' must be a mapping, got {type(streams).__name__}")
    # 2022-07 node YAMLs nest the block one level deeper, under 'value'.
    if "Outputs" not in streams and isinstance(streams.get("value"), dict):
        streams = streams["value"]
    outputs = streams.get("Outputs")
    if outputs is None:
        return {}
    if not isinstance(outputs, dict):
        raise GraphError(
            f"node YAML {path}: 'RedisStreams.Outputs' must map stream names to definitions, "
            f"got {type(outputs).__name__}"
        )
    return outputs


@dataclass(frozen=True)
class StreamDefinition:
    """A stream's node-YAML definition and where it came from.

    Attributes
    ----------
    body : dict or None
        The definition (``enable_nwb``, ``type_nwb``, one dict per key); None when it was not found.
    origin : str
        ``"compiled definition in the supergraph"`` or ``"node YAML <path>"``.
    nickname : str or None
        The writing node's nickname (its parameters feed ``$param`` substitution).
    node_name : str or None
        The writing node's name, without ``.bin``/``.py``.
    yaml_stream : str or None
        The stream's name in the node YAML, when known.
    reason : str
        When ``body`` is None: a short reason, for ``StreamSpec.enable_reason``.
    detail : str
        When ``body`` is None: the full explanation with what to do, for ``Graph.problems``.
    """

    body: dict | None
    origin: str = ""
    nickname: str | None = None
    node_name: str | None = None
    yaml_stream: str | None = None
    reason: str = ""
    detail: str = ""

    def describe(self, stream: str) -> str:
        """Name the node, the stream and the definition's origin, for error messages."""
        parts = [f"node '{self.nickname}'"] if self.nickname else []
        parts.append(f"stream '{stream}'")
        if self.yaml_stream and self.yaml_stream != stream:
            parts.append(f"(node YAML stream '{self.yaml_stream}')")
        return " ".join(parts) + f" [{self.origin}]"


def stream_writers(nodes: Mapping[str, dict], problems: list[str]) -> dict[str, tuple[str, str]]:
    """Map each graph stream to (writer nickname, node-YAML stream name) from the nodes' ``redis_outputs``.

    ``redis_outputs`` is a {graph stream: node YAML stream} dict, or (2022-07) a list of stream names that
    are also the node-YAML names.

    Raises
    ------
    GraphError
        If a node's ``redis_outputs`` has another shape.
    """
    writers: dict[str, tuple[str, str]] = {}
    for nickname, node in nodes.items():
        outputs = node.get("redis_outputs")
        if outputs is None:
            continue
        if isinstance(outputs, str):
            outputs = [outputs]
        if isinstance(outputs, list):
            outputs = {name: name for name in outputs}
        if not isinstance(outputs, dict):
            raise GraphError(
                f"node '{nickname}' redis_outputs must map graph streams to node YAML streams, "
                f"got {outputs!r}"
            )
        for graph_stream, yaml_stream in outputs.items():
            yaml_stream = graph_stream if yaml_stream is None else yaml_stream
            if not isinstance(graph_stream, str) or not isinstance(yaml_stream, str):
                raise GraphError(
                    f"node '{nickname}' redis_outputs entry {graph_stream!r}: {yaml_stream!r} is not text"
                )
            if graph_stream in writers:
                first = writers[graph_stream][0]
                problems.append(
                    f"stream '{graph_stream}' is written by nodes '{first}' and '{nickname}'; using '{first}'"
                )
                continue
            writers[graph_stream] = (nickname, yaml_stream)
    return writers


class DefinitionFinder:
    """Finds stream definitions: compiled in the supergraph first, else in the writing node's YAML.

    Parameters
    ----------
    nodes : Mapping
        The supergraph's nodes, {nickname: settings}.
    compiled : Mapping
        The supergraph's ``streams`` ({} before 2025).
    store : NodeYamlStore
        Where node YAMLs are looked up.
    problems : list of str
        Non-fatal findings are appended here.
    """

    def __init__(
        self,
        nodes: Mapping[str, dict],
        compiled: Mapping[str, Any],
        store: NodeYamlStore,
        problems: list[str],
    ) -> None:
        self.nodes = nodes
        self.compiled = compiled
        self.store = store
        self.problems = problems
        self.writers = stream_writers(nodes, problems)

    def find(
        self, stream: str, source_node: str | None = None, yaml_stream: str | None = None
    ) -> StreamDefinition:
        """Find the definition of graph stream ``stream``.

        Parameters
        ----------
        stream : str
            The graph stream name.
        source_node : str, optional
            2022-core: the *name* of the writing node, from the exportNWB config.
        yaml_stream : str, optional
            2022-core: the stream's name in the node YAML, from the exportNWB config.

        Raises
        ------
        GraphError
            If a definition or node YAML exists but has the wrong shape.
        """
        if source_node is not None:
            return self._from_source_node(stream, source_node, yaml_stream)
        if stream in self.compiled:
            return self._compiled(stream)
        if stream in self.writers:
            nickname, written_as = self.writers[stream]
            return self._from_node_yaml(stream, nickname, yaml_stream or written_as)
        compiled_note = " and the supergraph has no compiled definition of it" if self.compiled else ""
        return StreamDefinition(
            None,
            reason="no node writes it",
            detail=f"stream '{stream}' is listed for export, but no node lists it in redis_outputs"
            f"{compiled_note}; it cannot be exported",
        )

    def _compiled(self, stream: str) -> StreamDefinition:
        body = self.compiled[stream]
        if not isinstance(body, dict):
            raise GraphError(
                f"supergraph streams['{stream}'] must be a stream definition mapping, got {body!r}"
            )
        writer_nickname, writer_yaml_stream = self.writers.get(stream, (None, None))
        nickname = body.get("source_nickname", writer_nickname)
        nickname = nickname if isinstance(nickname, str) else None
        return StreamDefinition(
            body,
            origin="compiled definition in the supergraph",
            nickname=nickname,
            node_name=node_base_name(self.nodes.get(nickname) or {}) if nickname else None,
            yaml_stream=writer_yaml_stream if nickname == writer_nickname else None,
        )

    def _from_source_node(self, stream: str, source_node: str, yaml_stream: str | None) -> StreamDefinition:
        wanted = node_base_name({"name": source_node})
        candidates = [nick for nick, node in self.nodes.items() if node_base_name(node) == wanted]
        if not candidates:
            return StreamDefinition(
                None,
                reason="source node not in the graph",
                detail=f"stream '{stream}': exportNWB source_node '{source_node}' is not the name of any "
                "node in the graph; it cannot be exported",
            )
        writer = self.writers.get(stream, (None, None))[0]
        nickname = writer if writer in candidates else candidates[0]
        if writer not in candidates and len(candidates) > 1:
            self.problems.append(
                f"stream '{stream}': several nodes are named '{source_node}' ({', '.join(candidates)}); "
                f"using '{nickname}' for its node YAML and parameters"
            )
        return self._from_node_yaml(stream, nickname, yaml_stream or stream)

    def _from_node_yaml(self, stream: str, nickname: str, yaml_stream: str) -> StreamDefinition:
        node = self.nodes[nickname]
        found = {"nickname": nickname, "node_name": node_base_name(node), "yaml_stream": yaml_stream}
        path, missing = self.store.locate(nickname, node)
        if path is None:
            return StreamDefinition(
                None, **found, reason="node YAML not found", detail=f"stream '{stream}': {missing}"
            )
        outputs = self.store.outputs(path)
        if yaml_stream not in outputs:
            defined = ", ".join(map(str, outputs)) or "none"
            return StreamDefinition(
                None,
                **found,
                reason="stream definition not found",
                detail=f"stream '{stream}': node YAML {path} defines no output stream '{yaml_stream}' "
                f"(it defines: {defined}); is it the YAML of the node version that recorded the session?",
            )
        body = outputs[yaml_stream]
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise GraphError(f"node YAML {path}: stream '{yaml_stream}' must be a mapping, got {body!r}")
        return StreamDefinition(body, origin=f"node YAML {path}", **found)
