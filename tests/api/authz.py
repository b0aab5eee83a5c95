"""The authorization matrix's table: a patient's world and every endpoint on it.

Shared by test_authorization_matrix.py and test_authorization_scoping.py. Each row
of ENDPOINTS is one route of app.url_map under /v1/patients/ with the status
expected for the patient themself, a clinician on the care team and an admin.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select, text
from werkzeug.test import TestResponse

from service.db.outbox import OUTBOX, queued
from service.db.uow import Database
from service.usecases.message_refs import MessageRefs
from tests.conftest import Account, Builders, prescription_body

WRITTEN_TABLES = (
    "prescription_versions",
    "prescriptions",
    "care_team_members",
    "dose_events",
    "notifications",
    "taper_plans",
    "taper_plan_versions",
    "patient_conditions",
    "reported_products",
    "patient_findings",
    "password_resets",
    "patient_identifiers",
    "supply_entries",
)
# Rows a denied request could change in place (status, removal, record fields).
WATCHED_TABLES = (*WRITTEN_TABLES, "patients", "users")


@dataclass
class World:
    patient: Account  # the patient whose resources are requested
    team: Account  # the clinician who registered the patient (on the care team)
    second: Account  # a second care-team clinician, added by the admin
    outsider: Account  # a clinician on another patient's team only
    other_patient: Account  # that other patient
    admin: Account
    rx_id: str
    prn_rx_id: str
    database: Database
    condition_id: str
    product_id: str
    finding_id: str
    message_ref: str  # a message about the patient, as the outbox names it

    @property
    def patient_id(self) -> uuid.UUID:
        assert self.patient.patient_id is not None
        return self.patient.patient_id


def build_world(make: Builders, database: Database) -> World:
    team, second, outsider = make.clinician(), make.clinician(), make.clinician()
    admin = make.admin()
    patient = make.patient(team)
    other_patient = make.patient(outsider)
    rx = make.prescription(team, patient)
    prn = make.prescription(
        team,
        patient,
        drug="ibuprofen",
        dose={"amount": 400, "unit": "mg"},
        schedule={"times": [], "as_needed": True, "max_doses_per_day": 3, "min_hours_between": 6},
    )
    r = make.client.post(
        f"/v1/patients/{patient.patient_id}/care-team",
        json={"clinician_id": str(second.id)},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.json
    base = f"/v1/patients/{patient.patient_id}"
    condition = make.client.post(
        f"{base}/conditions", json={"code": "history-of-falls"}, headers=team.headers
    ).json
    # St John's wort with the escitalopram prescribed: a current finding to acknowledge.
    product = make.client.post(
        f"{base}/reported-products", json={"name": "St John's wort"}, headers=patient.headers
    ).json
    assert condition is not None
    assert product is not None
    (finding,) = [f for f in product["findings"] if f["severity"] == "major"]
    message = queued(
        key=f"taper-step:{uuid.uuid4()}",
        kind="taper-step",
        recipient_id=patient.id,
        patient_id=_patient_id(patient),
        dose_event_id=None,
        due_at=dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC),
        now=dt.datetime(2026, 1, 31, 8, tzinfo=dt.UTC),
    )
    with database.uow() as uow:
        uow.outbox.add_messages([message])
        uow.commit()
    with database.engine.connect() as conn:
        (message_id,) = conn.execute(
            select(OUTBOX.c.id).where(OUTBOX.c.idempotency_key == message["idempotency_key"])
        ).one()
    refs = MessageRefs(make.app.extensions["medtrack"].settings.secret_key)
    return World(
        patient,
        team,
        second,
        outsider,
        other_patient,
        admin,
        rx["id"],
        prn["id"],
        database,
        condition["id"],
        product["id"],
        finding["id"],
        refs.ref(message_id),
    )


def _patient_id(account: Account) -> uuid.UUID:
    assert account.patient_id is not None
    return account.patient_id


def _pause(client: FlaskClient, w: World) -> None:
    r = client.post(
        f"/v1/patients/{w.patient_id}/prescriptions/{w.rx_id}/pause",
        json={"reason": "set up a resume", "abrupt_stop_reason": "hospital admission"},
        headers=w.team.headers,
    )
    assert r.status_code == 200, r.json


@dataclass(frozen=True)
class Endpoint:
    method: str
    rule: str  # exactly as in app.url_map
    owner: int  # expected status for the patient themself,
    clinician: int  # for a clinician on the care team,
    admin: int  # and for an administrator
    body: Callable[[World], dict[str, Any]] | None = None
    setup: Callable[[FlaskClient, World], None] | None = None
    query: str = ""
    prn: bool = False  # the route is about the as-needed prescription
    json: bool = True  # a success answers JSON (not, say, CSV)

    @property
    def id(self) -> str:
        return f"{self.method} {self.rule.removeprefix('/v1/patients/<uuid:patient_id>') or '/'}"

    def path(self, w: World, *, patient_id: uuid.UUID | None = None) -> str:
        return (
            self.rule.replace("<uuid:patient_id>", str(patient_id or w.patient_id))
            .replace("<uuid:rx_id>", w.prn_rx_id if self.prn else w.rx_id)
            .replace("<uuid:clinician_id>", str(w.second.id))
            .replace("<uuid:condition_id>", w.condition_id)
            .replace("<uuid:product_id>", w.product_id)
            .replace("<string:finding_id>", w.finding_id)
            .replace("<string:ref>", w.message_ref)
        ) + self.query

    def call(
        self, client: FlaskClient, w: World, headers: dict[str, str], **kw: Any
    ) -> TestResponse:
        body = self.body(w) if self.body else None
        return client.open(self.path(w, **kw), method=self.method, json=body, headers=headers)


P = "/v1/patients/<uuid:patient_id>"
WINDOW = "?from=2026-01-01T00:00:00Z&to=2026-01-08T00:00:00Z"


def _taper(w: World) -> dict[str, Any]:
    """A plan that starts next week, whatever today is (drafts cannot start in the past)."""
    start = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=7)
    return {
        "start_dose_mg": 10,
        "algorithm": {"kind": "percent", "percent": 25},
        "floor_dose_mg": 2.5,
        "start_date": start.isoformat(),
    }


RX = f"{P}/prescriptions/<uuid:rx_id>"


def _reason(w: World) -> dict[str, Any]:
    return {"reason": "clinical review"}


def _stop(w: World) -> dict[str, Any]:
    return {"reason": "clinical review", "abrupt_stop_reason": "serotonin syndrome"}


def _add_outsider(w: World) -> dict[str, Any]:
    return {"clinician_id": str(w.outsider.id)}


def _new_rx(w: World) -> dict[str, Any]:
    return prescription_body(drug="diazepam", dose={"amount": 5, "unit": "mg"})


def _new_dose(w: World) -> dict[str, Any]:
    return {"dose": {"amount": 20, "unit": "mg"}, "reason": "titrate"}


def _dispense(w: World) -> dict[str, Any]:
    return {"formulation": "tablet 10 mg", "quantity": 30}


def _count(w: World) -> dict[str, Any]:
    return {"formulation": "tablet 10 mg", "quantity": 14}


def _identifier(w: World) -> dict[str, Any]:
    return {"system": "https://ehr.example.org/mrn", "value": f"MRN-{w.patient.patient_id}"}


ENDPOINTS = [
    Endpoint("GET", P, 200, 200, 200),
    Endpoint("PATCH", P, 403, 200, 403, body=lambda w: {"allergies": ["penicillin"]}),
    Endpoint("GET", f"{P}/care-team", 200, 200, 200),
    Endpoint("POST", f"{P}/care-team", 403, 403, 201, _add_outsider),
    Endpoint("DELETE", f"{P}/care-team/<uuid:clinician_id>", 403, 403, 200),
    Endpoint("GET", f"{P}/prescriptions", 200, 200, 404),
    Endpoint("POST", f"{P}/prescriptions", 403, 201, 404, _new_rx),
    Endpoint("GET", RX, 200, 200, 404),
    Endpoint("PATCH", RX, 403, 200, 404, _new_dose),
    Endpoint("GET", f"{RX}/versions", 200, 200, 404),
    Endpoint("POST", f"{RX}/pause", 403, 200, 404, _stop),
    Endpoint("POST", f"{RX}/resume", 403, 200, 404, _reason, setup=_pause),
    Endpoint("POST", f"{RX}/discontinue", 403, 200, 404, _stop),
    Endpoint("GET", f"{P}/audit", 403, 200, 404),
    Endpoint("GET", f"{P}/doses", 200, 200, 404, query=WINDOW),
    Endpoint("POST", f"{RX}/prn-doses", 201, 201, 404, body=lambda w: {}, prn=True),
    Endpoint("GET", f"{P}/adherence", 200, 200, 404, query=WINDOW),
    Endpoint("GET", f"{P}/adherence.csv", 200, 200, 404, query=WINDOW, json=False),
    Endpoint("POST", f"{RX}/taper-plans", 403, 201, 404, body=_taper),
    Endpoint("GET", f"{RX}/supplies", 200, 200, 404),
    Endpoint("POST", f"{RX}/supplies", 201, 201, 404, body=_dispense),
    Endpoint("POST", f"{RX}/supplies/count", 201, 201, 404, body=_count),
    Endpoint("GET", f"{RX}/supply", 200, 200, 404),
    Endpoint("GET", f"{RX}/taper-plans", 200, 200, 404),
    Endpoint("GET", f"{P}/taper-plans", 200, 200, 404),
    Endpoint("GET", f"{P}/conditions", 200, 200, 404),
    Endpoint("POST", f"{P}/conditions", 403, 201, 404, body=lambda w: {"code": "long-qt"}),
    Endpoint("POST", f"{P}/conditions/<uuid:condition_id>/end", 403, 200, 404, _reason),
    Endpoint("GET", f"{P}/reported-products", 200, 200, 404),
    Endpoint("POST", f"{P}/reported-products", 201, 201, 404, body=lambda w: {"name": "kava"}),
    Endpoint("POST", f"{P}/reported-products/<uuid:product_id>/end", 200, 200, 404),
    Endpoint("GET", f"{P}/findings", 200, 200, 404),
    Endpoint("POST", f"{P}/findings/<string:finding_id>/acknowledge", 403, 200, 404, _reason),
    Endpoint("GET", f"{P}/notifications", 200, 200, 404),
    Endpoint("GET", f"{P}/notifications/<string:ref>", 200, 200, 404),
    Endpoint("POST", f"{P}/password-reset", 403, 201, 201),
    Endpoint("GET", f"{P}/identifiers", 200, 200, 200),
    Endpoint("POST", f"{P}/identifiers", 403, 201, 201, body=_identifier),
]
ENDPOINT_IDS = [e.id for e in ENDPOINTS]


def snapshot(database: Database) -> dict[str, list[str]]:
    with database.engine.connect() as conn:
        return {
            t: sorted(repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {t}")))  # noqa: S608
            for t in WATCHED_TABLES
        }


def assert_error(r: TestResponse, status: int, w: World) -> None:
    """The one error shape, the status, and nothing of the patient's record in it."""
    assert r.status_code == status, (r.status_code, r.get_json())
    body = r.get_json()
    assert set(body) == {"code", "status", "message", "errors"}, body
    assert body["code"] == status, body
    assert body["status"] == HTTPStatus(status).phrase, body
    assert isinstance(body["message"], str), body
    assert body["message"].strip(), body
    assert isinstance(body["errors"], dict), body
    assert r.headers.get("X-Request-ID"), "every response carries X-Request-ID"
    raw = r.get_data(as_text=True)
    assert w.patient.email not in raw, f"the error leaks the patient's record: {raw}"
    assert "escitalopram" not in raw, f"the error leaks the patient's record: {raw}"
    if status == 401:
        challenge = r.headers.get("WWW-Authenticate", "")
        assert challenge.startswith("Bearer"), f"401 without a Bearer challenge: {challenge!r}"


def assert_denied_without_writes(
    client: FlaskClient,
    w: World,
    ep: Endpoint,
    headers: dict[str, str],
    status: int,
    count_rows: Callable[[str], int],
) -> None:
    counts = {t: count_rows(t) for t in WRITTEN_TABLES}
    before = snapshot(w.database)
    assert_error(ep.call(client, w, headers), status, w)
    after = {t: count_rows(t) for t in WRITTEN_TABLES}
    assert after == counts, f"a denied {ep.id} added rows: {counts} -> {after}"
    assert snapshot(w.database) == before, f"a denied {ep.id} changed stored rows"
