"""``new_id``: UUIDv7 strings that sort by creation time; ``derived_id``: stable."""

from __future__ import annotations

import time
import uuid

from hookline_runtime.ids import derived_id, new_id


def test_new_id_is_a_version_7_uuid_carrying_the_time_of_creation() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text  # the canonical lower-case 8-4-4-4-12 form
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after
    # An id of a later millisecond sorts after.
    first = new_id()
    later = new_id()
    while uuid.UUID(later).int >> 80 == uuid.UUID(first).int >> 80:
        later = new_id()
    assert later > first


def test_derived_id_is_the_same_for_the_same_parts_only() -> None:
    assert derived_id("a", "b") == derived_id("a", "b")
    assert derived_id("a", "b") != derived_id("ab")
    assert uuid.UUID(derived_id("a")).version == 5
