"""The scan's memory of the keys it handed out: exactly a set's answers, in less memory for UUIDs."""

from __future__ import annotations

import sys
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kanbert_async._core.page import SeenKeys

_uuid_strings = st.uuids().map(str)
# The same number spelled another way (upper case, no dashes, braces), as a server might: another key.
_respelled = st.uuids().flatmap(
    lambda u: st.sampled_from([str(u).upper(), u.hex, f"{{{u}}}", str(u)[:-1] + "X", str(u)])
)
_keys = st.one_of(_uuid_strings, _respelled, st.integers(), st.text(max_size=40))


@given(st.lists(st.one_of(_keys, st.sampled_from(["", 0, "0"])), max_size=60).flatmap(
    lambda keys: st.permutations(keys + keys[: len(keys) // 2])
))  # fmt: skip
def test_a_key_is_new_exactly_when_a_set_would_not_hold_it(keys: list[Any]) -> None:
    seen, plain = SeenKeys(), set()
    for key in keys:
        assert seen.add(key) == (key not in plain), key
        plain.add(key)
    assert len(seen) == len(plain)


def test_a_uuid_and_its_number_as_an_integer_key_are_two_keys() -> None:
    u = uuid.uuid4()
    seen = SeenKeys()
    assert seen.add(str(u)) and seen.add(u.int) and seen.add(u.hex)
    assert not seen.add(str(u)) and not seen.add(u.int)


def test_uuid_keys_are_kept_in_little_more_than_half_the_memory_of_their_strings() -> None:
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    seen = SeenKeys()
    for key in ids:
        seen.add(key)
    kept = sum(sys.getsizeof(number) for number in seen._uuids)
    assert kept < 0.6 * sum(sys.getsizeof(key) for key in ids)
