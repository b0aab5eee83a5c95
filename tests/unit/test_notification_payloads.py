"""The payloads the dispatcher builds validate against the documented notification
schemas (the OpenAPI components), for every kind, in both privacy modes."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
import yaml

from service.cli import generated_openapi_yaml
from service.db.doses import EventFacts
from service.db.outbox import Claimed
from service.domain.messages import DOSE_KINDS, MessageKind
from service.notify.base import Message
from service.usecases.dispatch_messages import dose_message, stored_message
from service.web.schemas.notifications import NotificationSchema, data_schema

AT = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
PATIENT = uuid.uuid4()
ADVICE = {
    "text": "Take it when you remember unless the next dose is near.",
    "source": {"id": "leaflet", "citation": "A leaflet.", "url": None},
}
# What each stored kind's use case writes (service/usecases/taper_*.py, followups.py...).
STORED: dict[str, dict[str, Any]] = {
    MessageKind.TAPER_STEP: {
        "plan_id": str(uuid.uuid4()),
        "prescription_id": str(uuid.uuid4()),
        "step_index": 3,
        "daily_dose_mg": "7.5",
        "start_date": "2026-06-10",
    },
    MessageKind.TAPER_CHANGED: {
        "plan_id": str(uuid.uuid4()),
        "prescription_id": str(uuid.uuid4()),
        "change": "paused",
        "status": "paused",
        "version": 2,
        "daily_dose_mg": "5",
    },
    MessageKind.DEVICE_TAKEN: {"device_id": str(uuid.uuid4())},
    MessageKind.REFILL_DUE: {
        "prescription_id": str(uuid.uuid4()),
        "drug": "diazepam",
        "formulation": "tablet 5 mg",
        "runs_out_on": "2026-06-20",
        "days_left": 9,
        "threshold_days": 10,
        "on_hand": "18",
    },
    MessageKind.REFILL_DUE_CARE_TEAM: {
        "prescription_id": str(uuid.uuid4()),
        "drug": "diazepam",
        "formulation": "tablet 5 mg",
        "runs_out_on": "2026-06-20",
        "days_left": 9,
        "threshold_days": 10,
        "on_hand": "18",
    },
    MessageKind.CARE_TEAM: {
        "dose_id": str(uuid.uuid4()),
        "prescription_id": str(uuid.uuid4()),
        "patient_id": str(PATIENT),
        "drug": "diazepam",
        "scheduled_at": AT.isoformat(),
        "reason": "withdrawal-risk",
        "status": "missed",
    },
    MessageKind.TAPER_SYMPTOMS: {
        "plan_id": str(uuid.uuid4()),
        "report_id": str(uuid.uuid4()),
        "patient_id": str(PATIENT),
        "total": 14,
        "threshold": 10,
        "red_flags": [],
        "unrated": ["tremor"],
    },
    MessageKind.TAPER_RED_FLAG: {
        "plan_id": str(uuid.uuid4()),
        "report_id": str(uuid.uuid4()),
        "patient_id": str(PATIENT),
        "total": 3,
        "threshold": 10,
        "red_flags": ["seizure"],
        "unrated": [],
    },
    MessageKind.REGIMEN_FINDING: {
        "patient_id": str(PATIENT),
        "finding_id": "f-1",
        "kind": "interaction",
        "severity": "major",
        "drugs": ["diazepam", "opioid"],
        "found_at": AT.isoformat(),
    },
}


def _claim(kind: str, key: str, payload: dict[str, Any] | None = None) -> Claimed:
    return Claimed(
        id=1,
        idempotency_key=key,
        kind=kind,
        recipient_id=uuid.uuid4(),
        patient_id=PATIENT,
        dose_event_id=None,
        due_at=AT,
        attempts=1,
        payload=payload or {},
        token="t",
    )


def _event(drug: str, amount: str) -> EventFacts:
    return EventFacts(
        id=uuid.uuid4(),
        prescription_id=uuid.uuid4(),
        drug=drug,
        dose_amount=Decimal(amount),
        dose_unit="mg",
        scheduled_at=AT,
        timezone="America/New_York",
        status="pending",
    )


def _validate(message: Message) -> dict[str, Any]:
    """The message as Web Push sends it, checked against the schemas."""
    sent = json.loads(
        json.dumps(
            {
                "idempotency_key": message.idempotency_key,
                "kind": message.kind,
                "title": message.title,
                "body": message.body,
                "data": dict(message.data),
            }
        )
    )
    assert NotificationSchema().validate(sent) == {}
    assert data_schema(message.kind).validate(sent["data"]) == {}, sent["data"]
    return sent


@pytest.mark.parametrize("kind", list(DOSE_KINDS))
@pytest.mark.parametrize("detailed", [False, True])
def test_dose_messages_validate_and_discreet_ones_name_no_drug(kind: str, detailed: bool) -> None:
    events = [_event("escitalopram", "10.0000"), _event("diazepam", "2.5")]
    claims = [_claim(kind, f"{kind}:{e.id}") for e in events]
    message = dose_message(
        claims, events, (), locale="en", detailed=detailed, advice={"diazepam": ADVICE}.get
    )
    sent = _validate(message)
    text = json.dumps(sent)
    assert ("escitalopram" in text) == detailed
    assert str(PATIENT) not in text
    if detailed:
        amounts = [d["dose"]["amount"] for d in sent["data"]["doses"]]
        assert amounts == [10, 2.5]
        assert all(not isinstance(a, str) for a in amounts)


@pytest.mark.parametrize("kind", list(STORED))
@pytest.mark.parametrize("detailed", [False, True])
def test_stored_messages_validate_and_care_team_ones_are_always_discreet(
    kind: str, detailed: bool
) -> None:
    payload = {"title": "Your diazepam dose", "body": "diazepam 7.5 mg", "data": STORED[kind]}
    message = stored_message(_claim(kind, f"{kind}:1", payload), (), locale="en", detailed=detailed)
    sent = _validate(message)
    text = json.dumps(sent)
    assert str(PATIENT) not in text
    patients = (
        MessageKind.TAPER_STEP,
        MessageKind.TAPER_CHANGED,
        MessageKind.DEVICE_TAKEN,
        MessageKind.REFILL_DUE,
    )
    shown = detailed and kind in patients
    assert ("diazepam" in text) == shown
    if shown and "daily_dose_mg" in STORED[kind]:
        assert isinstance(sent["data"]["daily_dose_mg"], int | float)


def test_the_schemas_are_components_of_the_spec() -> None:
    components = yaml.safe_load(generated_openapi_yaml())["components"]["schemas"]
    for name in ("Notification", "DoseNotificationData", "StoredNotificationData"):
        assert name in components
    dose = components["DoseNotificationData"]["properties"]
    assert dose["doses"]["items"]["$ref"].endswith("/NotifiedDose")
