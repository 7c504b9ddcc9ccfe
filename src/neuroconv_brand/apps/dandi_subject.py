"""What DANDI requires of the NWB ``Subject`` that BRAND's files cannot say, and the metadata lines that add it.

DANDI refuses a file whose ``Subject`` lacks ``subject_id``, ``species``, ``sex`` or ``age`` (``age`` or
``date_of_birth``). BRAND's participant file gives only the participant id and the implant date, so ``convert``
says once which are missing and prints the ``--metadata`` lines to add, instead of leaving it to the upload.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Each field DANDI requires, with an example value for the metadata file.
_REQUIRED = {
    "subject_id": "t1  # the participant's id",
    "species": "Homo sapiens",
    "sex": "M  # M, F, U or O",
    "age": "P45Y  # ISO 8601 duration (or give date_of_birth)",
}


def missing_subject_fields(metadata: Mapping) -> list[str]:
    """The ``Subject`` fields DANDI requires that ``metadata`` does not set (``age`` is met by ``date_of_birth``)."""
    subject = metadata.get("Subject") or {}
    missing = [name for name in _REQUIRED if not subject.get(name)]
    if "age" in missing and subject.get("date_of_birth"):
        missing.remove("age")
    return missing


def dandi_subject_note(metadata: Mapping) -> str | None:
    """A note naming the missing ``Subject`` fields and the ``--metadata`` YAML that adds them; None if complete."""
    missing = missing_subject_fields(metadata)
    if not missing:
        return None
    lines = [f"  {name}: {_REQUIRED[name]}" for name in missing]
    return (
        f"note: DANDI requires the subject's {', '.join(missing)}, which BRAND's files do not hold; to upload this "
        "file, convert again with --metadata FILE, a YAML file with:\nSubject:\n" + "\n".join(lines)
    )
