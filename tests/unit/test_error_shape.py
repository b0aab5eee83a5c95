"""Validation messages flattened to the one error shape's dotted field paths."""

from __future__ import annotations

from typing import Any

import pytest

from service.api.errors import _locations, flatten
from service.web.schemas.prescriptions import PrescriptionCreateSchema


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ({"drug": ["Missing."]}, {"drug": ["Missing."]}),
        ({"dose": {"amount": ["Too big."]}}, {"dose.amount": ["Too big."]}),
        (
            {"schedule": {"times": {0: ["Bad time."], 2: ["Also bad."]}}},
            {"schedule.times.0": ["Bad time."], "schedule.times.2": ["Also bad."]},
        ),
        ({"dose": {"_schema": ["Whole dose wrong."]}}, {"dose": ["Whole dose wrong."]}),
        ({"_schema": ["Invalid input type."]}, {"": ["Invalid input type."]}),
        (["Invalid input type."], {"": ["Invalid input type."]}),
        (("a", "b"), {"": ["a", "b"]}),
        ("just text", {"": ["just text"]}),
        (
            {"a": ["top"], "b": [{"c": ["nested"]}, "loose"]},
            {"a": ["top"], "b.c": ["nested"], "b": ["loose"]},
        ),
    ],
)
def test_flatten_without_prefix(messages: Any, expected: dict[str, list[str]]) -> None:
    assert flatten(messages) == expected


def test_flatten_with_prefix() -> None:
    assert flatten({"limit": ["Too big."], "_schema": ["Odd."]}, "query") == {
        "query.limit": ["Too big."],
        "query": ["Odd."],
    }


def test_flatten_merges_messages_that_land_on_the_same_path() -> None:
    assert flatten({"dose": {"_schema": ["one"]}, "_schema": {"dose": ["two"]}}) == {
        "dose": ["one", "two"]
    }


def test_query_location_is_prefixed() -> None:
    assert _locations({"query": {"limit": ["Must be at most 200."], "status": ["Bad."]}}) == {
        "query.limit": ["Must be at most 200."],
        "query.status": ["Bad."],
    }


@pytest.mark.parametrize("location", ["json", "form"])
def test_body_locations_are_not_prefixed(location: str) -> None:
    assert _locations({location: {"dose": {"amount": ["Too big."]}}}) == {
        "dose.amount": ["Too big."]
    }


@pytest.mark.parametrize(
    "messages",
    [
        {"json": ["Invalid input type."]},
        {"json": {"_schema": ["Invalid input type."]}},
        {"form": {"_schema": ["Invalid input type."]}},
    ],
)
def test_root_level_messages_go_to_body(messages: dict[str, Any]) -> None:
    assert _locations(messages) == {"body": ["Invalid input type."]}


def test_other_locations_are_prefixed_by_name() -> None:
    assert _locations({"path": {"patient_id": ["Not a valid UUID."]}}) == {
        "path.patient_id": ["Not a valid UUID."]
    }


def test_several_locations_are_combined() -> None:
    out = _locations({"json": {"drug": ["Missing."]}, "query": {"limit": ["Bad."]}})
    assert out == {"drug": ["Missing."], "query.limit": ["Bad."]}


def test_real_schema_messages_become_dotted_paths() -> None:
    body = {
        "drug": "x",
        "dose": {"amount": -1, "unit": "pint"},
        "route": "oral",
        "schedule": {"times": ["08:00", "25:00"]},
        "start_date": "2024-01-01",
        "colour": "blue",
    }
    messages = PrescriptionCreateSchema().validate(body)
    assert set(_locations({"json": messages})) == {
        "dose.amount",
        "dose.unit",
        "schedule.times.1",
        "colour",
    }
    assert _locations({"json": PrescriptionCreateSchema().validate([])}) == {
        "body": ["Invalid input type."]
    }
