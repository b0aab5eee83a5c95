"""What refill reminders say when they are sent: discreet ones name no drug, no
strength and no amount, in the patient's language; detailed ones name the drug, the
formulation and the run-out date in the patient's language; the care team's are always
discreet and in English. Every one validates against the documented schemas."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from service.db.outbox import Claimed
from service.domain.messages import MessageKind
from service.notify.base import Message
from service.usecases.dispatch_messages import stored_message
from service.web.schemas.notifications import NotificationSchema, data_schema

AT = dt.datetime(2026, 6, 26, 0, 5, tzinfo=dt.UTC)
PATIENT = uuid.uuid4()
RX = str(uuid.uuid4())
# A key that names no formulation: it is sent as the data's `notification_id`.
KEY = f"refill-due:{RX}:{uuid.uuid4()}"
# As service/usecases/refills.py queues a shortfall of diazepam 5 mg tablets.
PAYLOAD: dict[str, Any] = {
    "title": "Time to refill diazepam",
    "body": "diazepam tablet 5 mg runs out on 2026-07-05; ask for a refill now.",
    "data": {
        "prescription_id": RX,
        "drug": "diazepam",
        "formulation": "tablet 5 mg",
        "runs_out_on": "2026-07-05",
        "days_left": 9,
        "threshold_days": 10,
        "on_hand": "32",
    },
}
# What names the drug, its strength or the amount on hand, or the class (the threshold).
SECRETS = ("diazepam", "5 mg", '"32"', "threshold", "days_left", "runs_out_on", str(PATIENT))


def _claim(kind: str, payload: dict[str, Any] = PAYLOAD) -> Claimed:
    return Claimed(
        id=1,
        idempotency_key=KEY,
        kind=kind,
        recipient_id=uuid.uuid4(),
        patient_id=PATIENT,
        dose_event_id=None,
        due_at=AT,
        attempts=1,
        payload=payload,
        token="t",
    )


def _sent(message: Message) -> dict[str, Any]:
    """The message as Web Push sends it, checked against the schemas."""
    sent: dict[str, Any] = json.loads(
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


def _discreet_data(kind: str) -> dict[str, Any]:
    return {
        "notification_id": KEY,
        "kind": kind,
        "prescription_id": RX,
    }


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        ("en", "Time to ask for a refill", "Open the app to see which medicine."),
        ("es", "Es hora de pedir más medicamento", "Abra la aplicación para ver qué medicamento."),
    ],
)
def test_a_discreet_refill_reminder_names_no_drug_in_the_patient_s_language(
    locale: str, title: str, body: str
) -> None:
    message = stored_message(_claim(MessageKind.REFILL_DUE), (), locale=locale, detailed=False)
    sent = _sent(message)
    assert (sent["title"], sent["body"]) == (title, body)
    assert sent["data"] == _discreet_data(MessageKind.REFILL_DUE)
    assert not message.detailed
    text = json.dumps(sent, ensure_ascii=False)
    assert [s for s in SECRETS if s in text] == []


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        (
            "en",
            "Time to refill your diazepam",
            "Your diazepam (tablet 5 mg) runs out on Sunday, July 5, 2026. Ask for a refill now.",
        ),
        (
            "es",
            "Es hora de pedir más diazepam",
            "Su diazepam (tablet 5 mg) se acaba el domingo, 5 de julio de 2026. Pida más ahora.",
        ),
    ],
)
def test_a_detailed_refill_reminder_names_the_drug_and_the_day_in_the_patient_s_language(
    locale: str, title: str, body: str
) -> None:
    message = stored_message(_claim(MessageKind.REFILL_DUE), (), locale=locale, detailed=True)
    sent = _sent(message)
    assert (sent["title"], sent["body"]) == (title, body)
    assert message.detailed
    assert sent["data"]["drug"] == "diazepam"
    assert sent["data"]["formulation"] == "tablet 5 mg"
    assert sent["data"]["on_hand"] == 32, "an amount goes out as a JSON number"
    assert sent["data"]["threshold_days"] == 10


@pytest.mark.parametrize("detailed", [False, True])
def test_the_care_team_s_refill_reminder_is_discreet_and_in_english(detailed: bool) -> None:
    kind = MessageKind.REFILL_DUE_CARE_TEAM
    message = stored_message(_claim(kind), (), locale="es", detailed=detailed)
    sent = _sent(message)
    assert sent["title"] == "A patient's supply is running low"
    assert sent["body"] == ("A patient's medicine runs out soon. Open the app to see who.")
    assert sent["data"] == _discreet_data(kind)
    assert not message.detailed
    text = json.dumps(sent, ensure_ascii=False)
    assert [s for s in SECRETS if s in text] == []


def test_a_detailed_row_whose_data_lacks_the_drug_keeps_its_stored_words() -> None:
    payload = {**PAYLOAD, "data": {k: v for k, v in PAYLOAD["data"].items() if k != "drug"}}
    claim = _claim(MessageKind.REFILL_DUE, payload)
    message = stored_message(claim, (), locale="es", detailed=True)
    sent = _sent(message)
    assert (sent["title"], sent["body"]) == (PAYLOAD["title"], PAYLOAD["body"])
