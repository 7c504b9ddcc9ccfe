"""The Subject fields DANDI requires, and the note ``convert`` prints when they are missing."""

import pytest

from neuroconv_brand.apps.dandi_subject import dandi_subject_note, missing_subject_fields


@pytest.mark.parametrize(
    ("subject", "missing"),
    [
        ({}, ["subject_id", "species", "sex", "age"]),
        ({"subject_id": "t1"}, ["species", "sex", "age"]),
        ({"subject_id": "t1", "species": "Homo sapiens", "sex": "F"}, ["age"]),
        ({"subject_id": "t1", "species": "Homo sapiens", "sex": "F", "date_of_birth": "1980-01-01"}, []),
        ({"subject_id": "t1", "species": "Homo sapiens", "sex": "F", "age": "P45Y"}, []),
        ({"subject_id": "t1", "species": "", "sex": "F", "age": "P45Y"}, ["species"]),
    ],
)
def test_missing_subject_fields(subject, missing):
    assert missing_subject_fields({"Subject": subject}) == missing


def test_the_note_gives_the_metadata_lines_of_the_missing_fields_only():
    assert dandi_subject_note({"Subject": {"subject_id": "t1", "species": "Homo sapiens"}}) == (
        "note: DANDI requires the subject's sex, age, which BRAND's files do not hold; to upload this file, convert "
        "again with --metadata FILE, a YAML file with:\n"
        "Subject:\n"
        "  sex: M  # M, F, U or O\n"
        "  age: P45Y  # ISO 8601 duration (or give date_of_birth)"
    )
    assert dandi_subject_note({}).count("\n  ") == 4
    assert (
        dandi_subject_note({"Subject": {"subject_id": "t", "species": "s", "sex": "U", "age": "P1Y"}}) is None
    )
