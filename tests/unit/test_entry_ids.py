import numpy as np
import pytest

from neuroconv_brand.sources.entry_ids import EntryId, parse_entry_ids


def test_parse_and_format_round_trip():
    assert EntryId.parse(b"1700000000000-3") == EntryId(1700000000000, 3)
    assert EntryId.parse("1700000000000") == EntryId(1700000000000, 0)
    assert str(EntryId(5, 1)) == "5-1"


def test_ordering_is_redis_ordering():
    assert EntryId(5, 9) < EntryId(6, 0) < EntryId(6, 1)


def test_successor_is_the_next_possible_id():
    assert EntryId(5, 1).successor() == EntryId(5, 2)
    assert EntryId(5, 2**64 - 1).successor() == EntryId(6, 0)


def test_predecessor_is_the_previous_possible_id():
    assert EntryId(5, 2).predecessor() == EntryId(5, 1)
    assert EntryId(6, 0).predecessor() == EntryId(5, 2**64 - 1)
    assert EntryId(6, 0).predecessor().successor() == EntryId(6, 0)


def test_parse_rejects_garbage_with_a_clear_message():
    with pytest.raises(ValueError, match="not a Redis stream entry id"):
        EntryId.parse("abc-1")


def test_parse_entry_ids_vectorised_keeps_full_precision():
    raw = [b"1700000000000-0", b"1700000000000-1", b"1700000000001-18446744073709551615"]
    ids = parse_entry_ids(raw)
    assert ids.dtype == np.uint64
    assert ids.tolist() == [[1700000000000, 0], [1700000000000, 1], [1700000000001, 2**64 - 1]]
    assert parse_entry_ids([]).shape == (0, 2)
