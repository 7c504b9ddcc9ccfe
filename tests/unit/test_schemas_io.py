"""The participant and devices JSON Schemas, and every problem report of ``validate_document``."""

import datetime as dt

import pytest
import yaml
from jsonschema import Draft202012Validator

from neuroconv_brand.schemas_io import json_compatible, load_schema, schema_names, validate_document

# brand-export templates/t0.yaml (with two implants) and templates/devices.yaml, as YAML text.
PARTICIPANT_YAML = """
metadata:
  participant_id: t0
  cortical_implant_date: 2022-05-09
implants:
  - name:           array 1
    location:       left precentral gyrus
    position:       [1, 2, 3]
    device:         NeuroPort8x8
    connector:      pedestal A
    serial:         1234567890
    array_map:      test.csv
  - name:           array 2
    location:       left precentral gyrus
    position:       [1.5, -2, 30.0]
    device:         NeuroPort10x10
"""
DEVICES_YAML = """
- name:           NeuroPort10x10
  electrode_qty:  96
  description:    10x10 96 channel NeuroPort array
  manufacturer:   Blackrock Neurotech
- name:           NeuroPort8x8
  electrode_qty:  64
"""


def participant(**changes):
    document = yaml.safe_load(PARTICIPANT_YAML)
    document.update(changes)
    return document


def test_shipped_schemas_are_valid_draft_2020_12():
    assert {"devices", "participant"} <= set(schema_names())
    for name in schema_names():
        schema = load_schema(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


def test_load_schema_returns_a_fresh_copy():
    first = load_schema("devices")
    first["type"] = "object"
    assert load_schema("devices")["type"] == "array"


def test_unknown_schema_name():
    with pytest.raises(
        ValueError, match=r"no JSON schema named 'subject'; available: devices, .*participant"
    ):
        load_schema("subject")
    with pytest.raises(ValueError, match="no JSON schema named 'subject'"):
        validate_document({}, "subject", "x")


def test_templates_are_valid():
    assert validate_document(yaml.safe_load(PARTICIPANT_YAML), "participant", "participant file") == []
    assert validate_document(yaml.safe_load(DEVICES_YAML), "devices", "devices file") == []


def test_pre_2022_07_capitalised_keys_are_valid():
    document = yaml.safe_load(PARTICIPANT_YAML)
    old = {"Metadata": document["metadata"], "Implants": document["implants"]}
    assert validate_document(old, "participant", "p") == []


def test_yaml_dates_become_iso_text():
    assert json_compatible({"a": [dt.date(2022, 5, 9), dt.datetime(2022, 5, 9, 12, 0)]}) == {
        "a": ["2022-05-09", "2022-05-09T12:00:00"]
    }


def test_every_participant_problem_with_path_and_fix():
    document = {
        "metadata": {"cortical_implant_date": "May 2022"},
        "Metadata": {"participant_id": "t0"},
        "implants": [
            {"name": "array 1", "position": [1, 2], "device": 64},
            "array 2",
            {"name": "", "location": "M1", "device": "NeuroPort8x8", "position": [1, 2, "z"], "serial": 1.5},
        ],
    }
    assert validate_document(document, "participant", "participant file t0.yaml") == [
        "participant file t0.yaml: at $: the file has both 'metadata' and the pre-2022-07 spelling 'Metadata'. "
        "Fix: keep one of them (BRAND since 2022-07 reads 'metadata').",
        "participant file t0.yaml: at $.implants[0]: missing the required key 'location'. Fix: add the missing "
        "key to this implant (name: the array's name, e.g. 'array 1'; location: the anatomical location; "
        "device: a device name from the devices file).",
        "participant file t0.yaml: at $.implants[0].device: 64 is an integer, expected text. Fix: give a device "
        "name from the devices file, e.g. 'device: NeuroPort8x8'.",
        "participant file t0.yaml: at $.implants[0].position: has 2 item(s), expected at least 3. Fix: give the "
        "position as three numbers, e.g. 'position: [-35.0, -8.0, 58.0]'.",
        "participant file t0.yaml: at $.implants[1]: 'array 2' is text, expected a mapping. Fix: write each "
        "implant as a mapping: '- name: array 1' followed by indented 'location:', 'device:', ... lines.",
        "participant file t0.yaml: at $.implants[2].name: is empty text. Fix: give the array's name as text, "
        "e.g. 'name: array 1'.",
        "participant file t0.yaml: at $.implants[2].position[2]: 'z' is text, expected a number. Fix: give each "
        "coordinate as a number.",
        "participant file t0.yaml: at $.implants[2].serial: 1.5 is a number, expected text or an integer. Fix: "
        "give the serial number as text or an integer.",
        "participant file t0.yaml: at $.metadata: missing the required key 'participant_id'. Fix: add "
        "'participant_id' (the participant's identifier, e.g. t0) under 'metadata'.",
        "participant file t0.yaml: at $.metadata.cortical_implant_date: 'May 2022' is not a valid date. Fix: "
        "write the date as YYYY-MM-DD, e.g. 'cortical_implant_date: 2022-05-09'.",
    ]


def test_participant_structure_problems():
    no_implants = validate_document({"metadata": {"participant_id": "t0"}}, "participant", "p")
    assert no_implants == [
        "p: at $: the file has no 'implants' list. Fix: add 'implants:' with one entry per array: name, "
        "location, device (and position [x, y, z], connector, serial, array_map)."
    ]
    both = validate_document(participant(Implants=participant()["implants"]), "participant", "p")
    assert both == [
        "p: at $: the file has both 'implants' and the pre-2022-07 spelling 'Implants'. Fix: keep one of them "
        "(BRAND since 2022-07 reads 'implants')."
    ]
    assert validate_document(participant(implants=[]), "participant", "p") == [
        "p: at $.implants: has 0 item(s), expected at least 1. Fix: add one entry per implanted array (name, "
        "location, device, ...)."
    ]
    assert validate_document(participant(implants={"array 1": {}}), "participant", "p") == [
        "p: at $.implants: {'array 1': {}} is a mapping, expected a list. Fix: write 'implants' as a YAML list "
        "with one '- name: ...' entry per array."
    ]
    assert validate_document(None, "participant", "p") == [
        "p: at $: None is empty (null), expected a mapping. Fix: write the file as a YAML mapping with the keys "
        "'metadata' and 'implants' (see brand-export templates/t0.yaml)."
    ]
    assert validate_document(participant(metadata="t0"), "participant", "p") == [
        "p: at $.metadata: 't0' is text, expected a mapping. Fix: write 'metadata' as a mapping, e.g. "
        "'metadata: {participant_id: t0, cortical_implant_date: 2022-05-09}'."
    ]


def test_every_devices_problem_with_path_and_fix():
    document = [
        {"name": "NeuroPort8x8", "electrode_qty": 0, "manufacturer": ["Blackrock"]},
        {"electrode_qty": "64", "description": "Utah"},
        "NeuroPort10x10",
    ]
    assert validate_document(document, "devices", "devices file devices.yaml") == [
        "devices file devices.yaml: at $[0].electrode_qty: 0 is below the minimum 1. Fix: give the number of "
        "electrodes as a positive integer, e.g. 'electrode_qty: 64'.",
        "devices file devices.yaml: at $[0].manufacturer: ['Blackrock'] is a list, expected text. Fix: give the "
        "manufacturer as text, e.g. 'manufacturer: Blackrock Neurotech'.",
        "devices file devices.yaml: at $[1]: missing the required key 'name'. Fix: add the missing key to this "
        "device (name: what implants call it, e.g. NeuroPort8x8; electrode_qty: its number of electrodes, "
        "e.g. 64).",
        "devices file devices.yaml: at $[1].electrode_qty: '64' is text, expected an integer. Fix: give the "
        "number of electrodes as a positive integer, e.g. 'electrode_qty: 64'.",
        "devices file devices.yaml: at $[2]: 'NeuroPort10x10' is text, expected a mapping. Fix: write each "
        "device as a mapping: '- name: NeuroPort8x8' followed by indented 'electrode_qty: 64', ... lines.",
    ]


def test_devices_file_that_is_a_mapping_or_empty():
    as_mapping = validate_document({"devices": []}, "devices", "d")
    assert as_mapping == [
        "d: at $: {'devices': []} is a mapping, expected a list. Fix: write the file as a YAML list of devices: "
        "'- name: NeuroPort8x8' followed by indented 'electrode_qty: 64', 'description: ...', 'manufacturer: "
        "...' lines (see brand-export templates/devices.yaml)."
    ]
    assert validate_document([], "devices", "d") == [
        "d: at $: has 0 item(s), expected at least 1. Fix: add at least one device (name, electrode_qty, "
        "description, manufacturer)."
    ]
