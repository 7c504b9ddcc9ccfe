"""Files a BRAND session needs on disk: participant YAML, devices YAML, array maps and node YAMLs.

Folder layout (``folder`` is the argument of ``generate_session``)::

    folder/brand/                                   $BRAND_BASE_DIR (eras before 2025 only)
    folder/brand-modules/<module>/nodes/<name>/<name>.yaml   node YAMLs (graph module ../brand-modules/<module>)
    folder/config/devices.yaml
    folder/config/<participant>/<participant>.yaml
    folder/config/<participant>/<participant>_array<k>_map.csv   (array_map option, array_map_format "csv")
    folder/config/<participant>/<participant>_array<k>.cmp       (array_map option, array_map_format "cmp")

Graphs of eras with a base dir refer to the participant/devices files relative to it
(``../config/<participant>/<participant>.yaml``), as brand-nsp graphs do; 2025 graphs use absolute paths.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

from .config import SessionConfig
from .definitions import GraphDefinition, NodeDef
from .supergraph import FilePaths
from .truth import ElectrodeTruth

MANUFACTURER = "Blackrock Neurotech"
#: Devices of brand-export's templates/devices.yaml.
TEMPLATE_DEVICES = (
    {
        "name": "NeuroPort10x10",
        "electrode_qty": 96,
        "description": "96-channel Utah array, 10x10 grid",
        "manufacturer": MANUFACTURER,
    },
    {
        "name": "NeuroPort8x8",
        "electrode_qty": 64,
        "description": "64-channel Utah array, 8x8 grid",
        "manufacturer": MANUFACTURER,
    },
)
LOCATIONS = (
    "left precentral gyrus, area 6v",
    "left precentral gyrus, area 4",
    "left precentral gyrus, area 55b",
    "left precentral gyrus, area 6d",
)
ELECTRODE_PITCH_UM = 400.0


@dataclass(frozen=True)
class SessionFiles:
    """Paths written for a session and how the graph refers to them."""

    brand_base_dir: Path | None
    participant_file: Path
    devices_file: Path
    array_map_files: list[Path]
    node_yaml_files: dict[str, Path]
    graph_paths: FilePaths
    electrodes: list[ElectrodeTruth]


def device_for(channels: int) -> dict:
    """The devices.yaml entry of an array with ``channels`` electrodes."""
    for device in TEMPLATE_DEVICES:
        if device["electrode_qty"] == channels:
            return dict(device)
    return {
        "name": f"UtahArray{channels}",
        "electrode_qty": channels,
        "description": f"{channels}-channel Utah array",
        "manufacturer": MANUFACTURER,
    }


def electrode_position(index: int, channels: int) -> tuple[float, float, float]:
    """Position (um) of electrode ``index`` on a square grid with 400 um pitch."""
    side = math.ceil(math.sqrt(channels))
    return (float(index % side) * ELECTRODE_PITCH_UM, float(index // side) * ELECTRODE_PITCH_UM, 0.0)


def _array_layout(config: SessionConfig, array: int) -> list[tuple[tuple[float, float, float], str]]:
    """Per channel of an array: its position (um) and its ``.cmp`` label.

    CSV maps put channel ``i`` at grid cell ``i``; ``.cmp`` maps scatter the channels over the grid (seeded), as
    a Utah array's wiring does, and label each electrode ``elec<cell + 1>``.
    """
    channels = config.channels_per_array
    if config.array_map_format == "csv":
        return [(electrode_position(index, channels), f"elec{index + 1}") for index in range(channels)]
    side = math.ceil(math.sqrt(channels))
    cells = random.Random(config.seed * 1000 + array).sample(range(side * side), channels)
    return [(electrode_position(cell, channels), f"elec{cell + 1}") for cell in cells]


def _write_array_map(
    config: SessionConfig,
    folder: Path,
    array: int,
    layout: list[tuple[tuple[float, float, float], str]],
) -> Path:
    """Write array ``array``'s map: a CSV ``electrode,x,y,z``, or a Blackrock ``.cmp`` in grid order, CRLF."""
    stem = f"{config.participant_id}_array{array + 1}"
    if config.array_map_format == "csv":
        path = folder / f"{stem}_map.csv"
        rows = ["electrode,x,y,z"] + [f"{index},{x},{y},{z}" for index, ((x, y, z), _) in enumerate(layout)]
        path.write_text("\n".join(rows) + "\n")
        return path
    path = folder / f"{stem}.cmp"
    lines = [
        "//Blackrock Microsystems Cerebus map file (neuroconv_brand.testing)",
        f"//array {array + 1} of participant {config.participant_id}",
        "//col row bank elec label",
        "Cerebus mapping",
    ]
    by_grid = sorted(range(len(layout)), key=lambda index: (layout[index][0][1], layout[index][0][0]))
    for index in by_grid:
        (x, y, _), label = layout[index]
        bank, elec = "ABCDEFGH"[index // 32], index % 32 + 1
        lines.append(
            f"{int(x // ELECTRODE_PITCH_UM)}\t{int(y // ELECTRODE_PITCH_UM)}\t{bank}\t{elec}\t{label}"
        )
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return path


def write_session_files(config: SessionConfig, graph: GraphDefinition, folder: Path) -> SessionFiles:
    """Write every file of the session into ``folder`` (created if needed)."""
    folder = Path(folder).resolve()
    participant_dir = folder / "config" / config.participant_id
    participant_dir.mkdir(parents=True, exist_ok=True)
    device = device_for(config.channels_per_array)
    devices = [dict(d) for d in TEMPLATE_DEVICES]
    if device["name"] not in {d["name"] for d in devices}:
        devices.append(device)
    devices_file = folder / "config" / "devices.yaml"
    devices_file.write_text(yaml.safe_dump(devices, sort_keys=False))

    implants, electrodes, maps = [], [], []
    for array in range(config.n_arrays):
        name = f"array {array + 1}"
        implant = {
            "name": name,
            "location": LOCATIONS[array % len(LOCATIONS)],
            "position": [-35.0 + 4.0 * array, -8.0 + 6.0 * array, 58.0],
            "device": device["name"],
            "connector": f"pedestal {'AB'[array % 2]}, bank {array + 1}",
            "serial": 1234567890 + array,
        }
        layout = _array_layout(config, array)
        if config.array_map:
            map_file = _write_array_map(config, participant_dir, array, layout)
            implant["array_map"] = map_file.name
            maps.append(map_file)
        implants.append(implant)
        for index in range(config.channels_per_array):
            position, label = layout[index]
            electrodes.append(
                ElectrodeTruth(
                    row=len(electrodes),
                    implant=name,
                    device=device["name"],
                    index_in_array=index,
                    location=implant["location"],
                    position=position if config.array_map else None,
                    label=label if config.array_map and config.array_map_format == "cmp" else None,
                )
            )
    participant = {
        "metadata": {"participant_id": config.participant_id, "cortical_implant_date": dt.date(2022, 5, 9)},
        "implants": implants,
    }
    participant_file = participant_dir / f"{config.participant_id}.yaml"
    participant_file.write_text(yaml.safe_dump(participant, sort_keys=False))

    base_dir, node_files = None, {}
    if config.era != "2025":
        base_dir = folder / "brand"
        base_dir.mkdir(exist_ok=True)
        node_files = _write_node_yamls(config, graph, base_dir)
        relative = f"../config/{config.participant_id}/{participant_file.name}"
        paths = FilePaths(participant_file=relative, devices_file="../config/devices.yaml")
    else:
        paths = FilePaths(participant_file=str(participant_file), devices_file=str(devices_file))
    return SessionFiles(base_dir, participant_file, devices_file, maps, node_files, paths, electrodes)


def _write_node_yamls(config: SessionConfig, graph: GraphDefinition, base_dir: Path) -> dict[str, Path]:
    by_name: dict[str, list[NodeDef]] = {}
    for node in graph.nodes:
        by_name.setdefault(node.name, []).append(node)
    files = {}
    for name, nodes in by_name.items():
        path = Path(_normalise(base_dir / nodes[0].yaml_path))
        path.parent.mkdir(parents=True, exist_ok=True)
        document = _node_yaml_2022_07(graph, nodes) if config.era == "2022-07" else _node_yaml(nodes[0])
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        files[name] = path
    return files


def _normalise(path: Path) -> str:
    return os.path.normpath(str(path))


def _node_yaml(node: NodeDef) -> dict:
    outputs = {yaml_name: definition.as_yaml() for yaml_name, definition in node.streams.items()}
    return {"RedisStreams": {"Inputs": None, "Outputs": outputs}}


def _node_yaml_2022_07(graph: GraphDefinition, nodes: list[NodeDef]) -> dict:
    """2022-07 node YAML: ``RedisStreams.value.Outputs`` keyed by graph stream, literal sizes, ``sync``."""
    outputs = {}
    for node in nodes:
        for graph_stream, yaml_stream in node.outputs.items():
            definition = node.streams[yaml_stream].as_yaml(node.parameters)
            spec = graph.streams[graph_stream]
            outputs[graph_stream] = {"sync": list(spec.sync), **definition}
    return {
        "metadata": {"description": f"{nodes[0].name} node", "author": "neuroconv_brand.testing"},
        "RedisStreams": {
            "description": "input and output streams of the node",
            "value": {"Inputs": None, "Outputs": outputs},
        },
    }
