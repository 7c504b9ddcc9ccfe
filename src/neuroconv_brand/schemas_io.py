"""Load the JSON Schemas shipped in :mod:`neuroconv_brand.schemas` and validate documents against them.

:func:`validate_document` reports every problem of a document, each with its JSON path and a fix. Fix
texts come from the schemas themselves: a subschema may carry ``x-fix`` (one text, or one per failing
keyword) and ``x-problem`` (how to describe a failed ``anyOf``/``not``); keywords without one get a
generic text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

_SCHEMA_PACKAGE = "neuroconv_brand.schemas"
_SUFFIX = ".schema.json"
_REQUIRED_MESSAGE = re.compile(r"^(?P<name>.+?) is a required property$")
_JSON_TYPES = {
    dict: "a mapping",
    list: "a list",
    str: "text",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "empty (null)",
}
#: JSON Schema type names as a YAML author would say them.
_SCHEMA_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def schema_names() -> list[str]:
    """Names of the shipped schemas (``"participant"``, ``"devices"``, ...), sorted."""
    folder = resources.files(_SCHEMA_PACKAGE)
    return sorted(item.name[: -len(_SUFFIX)] for item in folder.iterdir() if item.name.endswith(_SUFFIX))


def load_schema(name: str) -> dict:
    """Return the schema ``<name>.schema.json`` shipped in :mod:`neuroconv_brand.schemas`.

    Parameters
    ----------
    name : str
        The schema's name without suffix, e.g. ``"participant"`` or ``"devices"``.

    Returns
    -------
    dict
        A fresh copy of the schema (callers may modify it).

    Raises
    ------
    ValueError
        If no schema of that name is shipped; the message lists the available names.
    """
    return json.loads(_schema_text(name))


@cache
def _schema_text(name: str) -> str:
    resource = resources.files(_SCHEMA_PACKAGE) / f"{name}{_SUFFIX}"
    if not resource.is_file():
        raise ValueError(f"no JSON schema named '{name}'; available: {', '.join(schema_names())}")
    return resource.read_text(encoding="utf-8")


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def json_compatible(document: Any) -> Any:
    """Turn what ``yaml.safe_load`` may return into JSON types: dates and datetimes become ISO 8601 text.

    YAML reads an unquoted ``2022-05-09`` as a :class:`datetime.date`; JSON Schema only knows text.
    """
    if isinstance(document, dict):
        return {key: json_compatible(value) for key, value in document.items()}
    if isinstance(document, list | tuple):
        return [json_compatible(value) for value in document]
    if isinstance(document, dt.date | dt.datetime):
        return document.isoformat()
    return document


def validate_document(document: Any, schema_name: str, file_label: str) -> list[str]:
    """Check ``document`` against a shipped schema and describe every problem.

    Parameters
    ----------
    document : Any
        The parsed file (e.g. from ``yaml.safe_load``); YAML dates are accepted as dates.
    schema_name : str
        ``"participant"`` or ``"devices"`` (see :func:`schema_names`).
    file_label : str
        How to name the file in messages, e.g. ``"participant file /data/t0/t0.yaml"``.

    Returns
    -------
    list of str
        One line per problem, ``"<file_label>: at <JSON path>: <problem>. Fix: <what to do>."``, ordered by
        path; empty when the document is valid.

    Raises
    ------
    ValueError
        If ``schema_name`` is not a shipped schema.
    """
    validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(json_compatible(document)), key=_sort_key)
    return [f"{file_label}: at {error.json_path}: {_problem(error)}. Fix: {_fix(error)}." for error in errors]


def _sort_key(error: ValidationError) -> tuple:
    return (tuple(str(part) for part in error.absolute_path), str(error.validator), error.message)


def _problem(error: ValidationError) -> str:
    keyword, expected, instance = error.validator, error.validator_value, error.instance
    if isinstance(error.schema, dict) and "x-problem" in error.schema:
        return error.schema["x-problem"]
    if keyword == "required":
        return f"missing the required key {_missing_key(error)}"
    if keyword == "type":
        return f"{_short(instance)} is {_json_type(instance)}, expected {_expected_types(expected)}"
    if keyword == "minItems":
        return f"has {len(instance)} item(s), expected at least {expected}"
    if keyword == "maxItems":
        return f"has {len(instance)} item(s), expected at most {expected}"
    if keyword == "minLength":
        return "is empty text"
    if keyword == "minimum":
        return f"{_short(instance)} is below the minimum {expected}"
    if keyword == "format":
        return f"{_short(instance)} is not a valid {expected}"
    return error.message


def _fix(error: ValidationError) -> str:
    hint = error.schema.get("x-fix") if isinstance(error.schema, dict) else None
    if isinstance(hint, dict):
        hint = hint.get(str(error.validator))
    if isinstance(hint, str):
        return hint
    if error.validator == "required":
        return f"add {_missing_key(error)}"
    if error.validator == "type":
        return f"give {_expected_types(error.validator_value)} here"
    return "correct the value to match the file format described in the schema"


def _missing_key(error: ValidationError) -> str:
    match = _REQUIRED_MESSAGE.match(error.message)
    return match.group("name") if match else str(error.validator_value)


def _expected_types(expected: str | list[str]) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join(_SCHEMA_TYPES.get(name, name) for name in names)


def _json_type(instance: Any) -> str:
    for kind, text in _JSON_TYPES.items():
        if type(instance) is kind:
            return text
    return type(instance).__name__


def _short(instance: Any, limit: int = 60) -> str:
    text = repr(instance)
    return text if len(text) <= limit else text[: limit - 3] + "..."
