"""API4 Unrestricted Resource Consumption: bounded bodies, bounded inputs, bounded lists.

A body over MEDTRACK_MAX_BODY_BYTES is 413 before anything reads it; every list,
string and map a view accepts has a maximum size and every number a range; every list
a view answers is paged (limit at most 200) or bounded by a rule of its own. The
planner's own limits (500 steps, 20,000 dose levels) are tested with the planner.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from marshmallow import Schema, fields, validate

from service.config import Settings
from service.usecases import patients
from service.usecases.devices import MAX_DEVICES
from service.web.schemas.common import MAX_PAGE, ClockTime
from tests.conftest import Builders, FrozenClock
from tests.security.world import (
    World,
    argument_schemas,
    assert_error,
    build_world,
    response_schemas,
)

# Lists answered whole, and what bounds each.
UNPAGED = {
    "/v1/me/devices": "at most MAX_DEVICES active devices per account",
    "/v1/patients/<uuid:patient_id>/care-team": "at most MAX_CARE_TEAM clinicians",
    "/v1/patients/<uuid:patient_id>/care-team/<uuid:clinician_id>": "the team left (DELETE)",
    "/v1/patients/<uuid:patient_id>/doses": "a window of at most 31 days",
    "/v1/patients/<uuid:patient_id>/identifiers": "at most MAX_IDENTIFIERS per patient",
    "/v1/patients/<uuid:patient_id>/prescriptions/<uuid:rx_id>/supplies": (
        "the last MAX_LISTED entries of a prescription"
    ),
}


def _has_max(field: fields.Field) -> bool:
    return any(
        (isinstance(v, validate.Length | validate.Range) and v.max is not None)
        or isinstance(v, validate.OneOf)
        for v in field.validators
    )


def _unbounded(field: fields.Field, path: str) -> list[str]:
    if isinstance(field, fields.Nested):
        return _unbounded_in(field.schema, path)
    if isinstance(field, fields.List):
        own = [] if _has_max(field) else [path]
        return own + _unbounded(field.inner, f"{path}[]")
    if isinstance(field, fields.Dict):
        own = [] if _has_max(field) else [path]
        keys = _unbounded(field.key_field, f"{path}{{key}}") if field.key_field else []
        values = _unbounded(field.value_field, f"{path}{{}}") if field.value_field else []
        return own + keys + values
    if isinstance(field, ClockTime | fields.UUID | fields.Date | fields.Boolean):
        return []  # a fixed shape (HH:MM, a UUID, a date) or a boolean
    if isinstance(field, fields.DateTime):
        return []  # ISO 8601; Instant also bounds the year
    return [] if _has_max(field) else [path]


def _unbounded_in(schema: Schema, path: str) -> list[str]:
    out: list[str] = []
    for name, field in schema.fields.items():
        if not field.dump_only:
            out += _unbounded(field, f"{path}.{field.data_key or name}")
    return out


def test_every_input_has_a_maximum(app: Flask) -> None:
    found = [
        f"{method} {rule} {location}{path}"
        for method, rule, location, schema in argument_schemas(app)
        for path in _unbounded_in(schema, "")
    ]
    assert found == []


def test_the_check_sees_an_unbounded_field() -> None:
    """Control: a list without a maximum, and one inside a nested schema, are found."""

    class Inner(Schema):
        tags = fields.List(fields.String(validate=validate.Length(max=5)))

    class Outer(Schema):
        items = fields.List(fields.Nested(Inner), validate=validate.Length(max=3))
        note = fields.String()

    assert _unbounded_in(Outer(), "") == [".items[].tags", ".note"]


# --- the body ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/auth/token", "/v1/patients", "/v1/interactions/check"])
def test_a_body_over_the_limit_is_413_in_the_error_shape(
    make: Builders, settings: Settings, path: str
) -> None:
    doc = make.clinician()
    raw = json.dumps({"drugs": ["x" * settings.max_body_bytes]})
    r = make.client.post(path, data=raw, content_type="application/json", headers=doc.headers)
    body = assert_error(r, 413)
    assert body["message"] == "The request body is too large."
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("size", [10, 2_000_000])
def test_a_streamed_body_without_a_length_is_refused(
    make: Builders, count_rows: Any, size: int
) -> None:
    """Chunked bodies (the server sets wsgi.input_terminated) have no length to check
    up front, and Werkzeug would silently cut one at the limit: 411, nothing read."""
    failures = count_rows("login_failures")
    body = json.dumps({"email": "a@example.org", "password": "x" * size}).encode()
    r = make.client.post(
        "/v1/auth/token",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert assert_error(r, 411)["message"] == "Send the body with a Content-Length header."
    assert count_rows("login_failures") == failures


# --- lists answered ------------------------------------------------------------------


def _paged(app: Flask) -> dict[str, fields.Integer]:
    """rule -> its `limit` field, for every GET that takes one."""
    return {
        rule: schema.fields["limit"]
        for method, rule, location, schema in argument_schemas(app)
        if method == "GET" and location == "query" and "limit" in schema.fields
    }


def test_every_list_answered_is_paged_or_bounded(app: Flask) -> None:
    paged = _paged(app)
    lists = {rule for method, rule, _, schema in response_schemas(app) if schema.many}
    assert lists, "the walk found the list endpoints"
    assert lists - set(paged) - set(UNPAGED) == set(), "page these lists or bound them"
    assert set(UNPAGED) & set(paged) == set(), "paged now: remove from UNPAGED"
    assert set(UNPAGED) <= lists
    for rule, limit in paged.items():
        (top,) = [v.max for v in limit.validators if isinstance(v, validate.Range)]
        assert top is not None
        assert top <= MAX_PAGE, rule


@pytest.fixture
def world(make: Builders, clock: FrozenClock) -> World:
    return build_world(make, clock)


def _fill(rule: str, w: World) -> str:
    return rule.replace("<uuid:patient_id>", str(w.patient_id)).replace("<uuid:rx_id>", w.rx_id)


def test_page_sizes_beyond_the_maximum_are_refused(
    app: Flask, make: Builders, world: World
) -> None:
    paged = _paged(app)
    assert len(paged) >= 6
    for rule, limit in paged.items():
        (top,) = [v.max for v in limit.validators if isinstance(v, validate.Range)]
        who = world.admin if rule.startswith(("/v1/users", "/v1/admin")) else world.doc
        if rule in ("/v1/me/taper-plans", "/v1/me/changes"):
            who = world.patient
        extra = {"q": "diaz"} if rule == "/v1/drugs" else {}
        for bad in (top + 1, 0, -1):
            r = make.client.get(
                _fill(rule, world), query_string={"limit": bad, **extra}, headers=who.headers
            )
            assert "query.limit" in assert_error(r, 422)["errors"], rule
        r = make.client.get(
            _fill(rule, world), query_string={"limit": top, **extra}, headers=who.headers
        )
        assert r.status_code == 200, (rule, r.json)


@pytest.mark.parametrize(
    ("path", "longest", "too_long"),
    [
        ("doses", "2026-02-01T00:00:00Z", "2026-02-01T00:00:01Z"),
        ("adherence", "2027-01-02T00:00:00Z", "2027-01-02T00:00:01Z"),
        ("adherence.csv", "2027-01-02T00:00:00Z", "2027-01-02T00:00:01Z"),
    ],
)
def test_windows_of_doses_and_adherence_are_bounded(
    make: Builders, world: World, path: str, longest: str, too_long: str
) -> None:
    """Doses: at most 31 days; adherence: at most 366 (2026 has 365, so to 2027-01-02)."""
    url = f"/v1/patients/{world.patient_id}/{path}"
    start = "2026-01-01T00:00:00Z"
    ok = make.client.get(
        url, query_string={"from": start, "to": longest}, headers=world.doc.headers
    )
    assert ok.status_code == 200, ok.json
    r = make.client.get(
        url, query_string={"from": start, "to": too_long}, headers=world.doc.headers
    )
    assert_error(r, 422)


def test_an_account_has_at_most_max_devices(make: Builders, world: World) -> None:
    headers = world.other_patient.headers
    for n in range(MAX_DEVICES):
        body = {"platform": "fcm", "token": f"fcm-token-{n:04d}"}
        assert make.client.post("/v1/me/devices", json=body, headers=headers).status_code == 201
    more = {"platform": "fcm", "token": "fcm-token-one-too-many"}
    assert_error(make.client.post("/v1/me/devices", json=more, headers=headers), 409)
    listed = make.client.get("/v1/me/devices", headers=headers).json
    assert len(listed) == MAX_DEVICES  # type: ignore[arg-type]


def test_a_care_team_has_at_most_max_care_team_clinicians(
    make: Builders, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patients, "MAX_CARE_TEAM", 2)
    url = f"/v1/patients/{world.patient_id}/care-team"
    h = world.admin.headers
    second, third = make.clinician(), make.clinician()
    assert (
        make.client.post(url, json={"clinician_id": str(second.id)}, headers=h).status_code == 201
    )
    r = make.client.post(url, json={"clinician_id": str(third.id)}, headers=h)
    assert "At most 2 clinicians" in assert_error(r, 409)["message"]
    assert len(make.client.get(url, headers=h).json) == 2  # type: ignore[arg-type]
