"""The message claimed outbox rows become, in the patient's language and privacy.

Dose messages (reminder, snooze, follow-up) are written when they are sent, from the
doses as they then stand; the doses of one patient due at the same instant go as one
message listing them (dispatch_lanes.py groups them). Other kinds carry the title,
body and data stored with the row when it was queued.

Privacy (the patient's `notification_privacy`, service.domain.accounts):

- `discreet` (the default): the title and body name no drug and no dose ("Time for
  your 08:00 medicines"), and `data` carries ids only: the notification id, the kind,
  the dose ids and the instant. No patient id: the signed-in app knows whose it is and
  fetches the details. A stored kind keeps only the `*_id` fields of its data (other
  than `patient_id`) and the few fields in DISCREET_FIELDS that name no drug, dose or
  symptom (why, when, how severe), and gets a generic title and body.
- `detailed`: the drugs and doses are named, amounts are JSON numbers
  (`{"amount": 2, "unit": "mg"}`), and a follow-up carries each drug's missed-dose
  advice from the catalog, with its source. A refill reminder is written when it is
  sent, in the patient's language, from its data (drug, formulation, run-out date).

Care-team kinds go to clinicians' phones, whose lock screens the patient did not
choose: they are always written discreetly (the console and the app show the rest).
The notification schemas are in service/web/schemas/notifications.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from service.db.devices import DeviceFacts
from service.db.doses import EventFacts
from service.db.outbox import Claimed
from service.domain.messages import CARE_TEAM_KINDS, MessageKind
from service.domain.prescriptions import plain_amount
from service.i18n import DEFAULT_LOCALE, format_day, gettext
from service.notify.base import Device, Message

# A drug's missed-dose advice, `{"text", "source"}` (service.usecases.missed_doses).
AdviceFor = Callable[[str], Mapping[str, Any] | None]


def _generic(kind: str, locale: str) -> tuple[str, str] | None:
    """What a stored kind shows under discreet privacy (a care-team kind always);
    written out as gettext calls so that the catalogs' extraction finds them."""
    texts: dict[str, tuple[str, str]] = {
        MessageKind.TAPER_STEP: (
            gettext(locale, "Your plan has a step today"),
            gettext(locale, "Open the app to see it."),
        ),
        MessageKind.TAPER_CHANGED: (
            gettext(locale, "Your care team changed your plan"),
            gettext(locale, "Open the app to see what changed."),
        ),
        MessageKind.DEVICE_TAKEN: (
            gettext(locale, "Another account tried to use your device"),
            gettext(locale, "Open the app to see what to do."),
        ),
        MessageKind.CARE_TEAM: (
            gettext(locale, "Missed or skipped doses"),
            gettext(locale, "A patient has missed or skipped doses. Open the app to see who."),
        ),
        MessageKind.TAPER_SYMPTOMS: (
            gettext(locale, "Withdrawal symptoms reported"),
            gettext(
                locale, "A patient reported withdrawal symptoms. Open the app to see the report."
            ),
        ),
        MessageKind.TAPER_RED_FLAG: (
            gettext(locale, "Red-flag withdrawal symptom reported"),
            gettext(locale, "A patient reported a red-flag symptom. Open the app now."),
        ),
        MessageKind.REGIMEN_FINDING: (
            gettext(locale, "New regimen finding"),
            gettext(locale, "A patient's regimen has a new finding. Open the app to review it."),
        ),
        MessageKind.REFILL_DUE: (
            gettext(locale, "Time to ask for a refill"),
            gettext(locale, "Open the app to see which medicine."),
        ),
        MessageKind.REFILL_DUE_CARE_TEAM: (
            gettext(locale, "A patient's supply is running low"),
            gettext(
                locale,
                "A patient's medicine runs out soon. Open the app to see who.",
            ),
        ),
    }
    return texts.get(kind)


# Fields of stored data that name no drug, class of drug, dose or symptom: kept under
# discreet (a care-team row's `reason`, "withdrawal-risk", would name a class). A refill
# reminder's run-out date and days left say when, as `scheduled_at` does; its
# `threshold_days` is not kept (10 is the withdrawal-risk threshold: it names the
# class), nor are `formulation` (a strength) and `on_hand` (an amount of it).
# A refill's run-out date and days left stay out too: the first reminder comes at
# the threshold, which differs for withdrawal-risk drugs and so would name a class.
DISCREET_FIELDS = frozenset(
    {"severity", "status", "change", "version", "step_index", "scheduled_at"}
)

# Amounts stored as text that go out as JSON numbers under detailed (besides `*_mg`).
NUMERIC_FIELDS = frozenset({"on_hand"})


def device(d: DeviceFacts) -> Device:
    return Device(
        id=str(d.id), platform=d.platform, endpoint=d.endpoint, token=d.token, keys=d.keys or {}
    )


def number(value: Any) -> int | float:
    """A JSON number for an amount: 2, not "2.0000"; 2.5, not "2.5"."""
    amount = plain_amount(Decimal(str(value)))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def group_key(claims: Sequence[Claimed]) -> str:
    """One row's own key; for several, a key derived from all of theirs, so a retry
    of the same group carries the same key (and a changed group another one)."""
    if len(claims) == 1:
        return claims[0].idempotency_key
    keys = "|".join(sorted(c.idempotency_key for c in claims))
    return f"{claims[0].kind}:group:{hashlib.sha256(keys.encode()).hexdigest()[:32]}"


def dose_message(
    claims: Sequence[Claimed],
    events: Sequence[EventFacts],
    devices: tuple[Device, ...],
    *,
    locale: str,
    detailed: bool,
    advice: AdviceFor,
) -> Message:
    """One message about `events`, doses of one patient due at the same instant."""
    first, kind = claims[0], claims[0].kind
    at = events[0].scheduled_at
    local = at.astimezone(zoneinfo.ZoneInfo(events[0].timezone))
    key = group_key(claims)
    data: dict[str, Any] = {
        "notification_id": key,
        "kind": kind,
        "scheduled_at": at.astimezone(dt.UTC).isoformat(),
        "local_time": f"{local:%H:%M}",
        "dose_ids": [str(e.id) for e in events],
    }
    follow_up = kind == MessageKind.FOLLOW_UP
    if detailed:
        data["doses"] = [_dose_data(e, follow_up=follow_up, advice=advice) for e in events]
        title, body = _detailed_words(events, locale, f"{local:%H:%M}", follow_up, advice)
    else:
        title, body = _discreet_words(locale, f"{local:%H:%M}", follow_up)
    return Message(
        idempotency_key=key,
        kind=kind,
        recipient_id=str(first.recipient_id),
        patient_id=str(first.patient_id),
        title=title,
        body=body,
        data=data,
        devices=devices,
        detailed=detailed,
    )


def _dose_data(e: EventFacts, *, follow_up: bool, advice: AdviceFor) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dose_id": str(e.id),
        "prescription_id": str(e.prescription_id),
        "drug": e.drug,
        "dose": {"amount": number(e.dose_amount), "unit": e.dose_unit},
    }
    if follow_up:
        found = advice(e.drug)
        out["missed_dose_advice"] = dict(found) if found is not None else None
    return out


def _discreet_words(locale: str, time: str, follow_up: bool) -> tuple[str, str]:
    if follow_up:
        return (
            gettext(locale, "Did you take your %(time)s medicines?", time=time),
            gettext(locale, "Open the app to log them."),
        )
    return (
        gettext(locale, "Time for your %(time)s medicines", time=time),
        gettext(locale, "Open the app to see what to take."),
    )


def _amount(e: EventFacts) -> str:
    return f"{plain_amount(Decimal(str(e.dose_amount)))} {e.dose_unit}"


def _detailed_words(
    events: Sequence[EventFacts], locale: str, time: str, follow_up: bool, advice: AdviceFor
) -> tuple[str, str]:
    if len(events) > 1:
        doses = ", ".join(f"{e.drug} {_amount(e)}" for e in events)
        if follow_up:
            return (
                gettext(locale, "Did you take your %(time)s medicines?", time=time),
                gettext(
                    locale,
                    "%(doses)s were due at %(time)s. Log them in the app; it says what to "
                    "do about a missed dose.",
                    doses=doses,
                    time=time,
                ),
            )
        return (
            gettext(locale, "Time for your %(time)s medicines", time=time),
            gettext(locale, "%(doses)s.", doses=doses),
        )
    e = events[0]
    if not follow_up:
        return (
            gettext(locale, "Time for your %(drug)s", drug=e.drug),
            gettext(locale, "%(dose)s at %(time)s.", dose=_amount(e), time=time),
        )
    found = advice(e.drug)
    what_to_do = (
        gettext(locale, "If you missed it: %(advice)s", advice=found["text"])
        if found is not None
        else gettext(locale, "If you missed it, ask your pharmacist what to do.")
    )
    return (
        gettext(locale, "Did you take your %(drug)s?", drug=e.drug),
        gettext(
            locale,
            "%(dose)s was due at %(time)s. Log it in the app. %(what_to_do)s",
            dose=_amount(e),
            time=time,
            what_to_do=what_to_do,
        ),
    )


def stored_message(
    c: Claimed, devices: tuple[Device, ...], *, locale: str, detailed: bool
) -> Message:
    """The row's stored message; discreet (see the module's docstring) unless the
    patient chose detailed notifications and the kind is theirs."""
    data = dict(c.payload.get("data", {}))
    title, body = str(c.payload.get("title", "")), str(c.payload.get("body", ""))
    shown = detailed and c.kind not in CARE_TEAM_KINDS
    if shown:
        data = {key: _numeric(key, value) for key, value in data.items()}
        if c.kind == MessageKind.REFILL_DUE:
            title, body = _refill_words(data, locale) or (title, body)
    else:
        data = {k: v for k, v in data.items() if _discreet_field(k)}
        # Clinicians have no language setting: the patient's is not theirs.
        generic = _generic(c.kind, DEFAULT_LOCALE if c.kind in CARE_TEAM_KINDS else locale)
        if generic is not None:
            title, body = generic
    data.update(notification_id=c.idempotency_key, kind=c.kind)
    return Message(
        idempotency_key=c.idempotency_key,
        kind=c.kind,
        recipient_id=str(c.recipient_id),
        patient_id=str(c.patient_id),
        title=title,
        body=body,
        data=data,
        devices=devices,
        detailed=shown,
    )


def _discreet_field(key: str) -> bool:
    return (key.endswith("_id") and key != "patient_id") or key in DISCREET_FIELDS


def _refill_words(data: Mapping[str, Any], locale: str) -> tuple[str, str] | None:
    """A detailed refill reminder in the patient's language: the stored title and body
    are English, so they are written again from the data; None (the stored words are
    sent) for a row whose data lacks the drug or the date."""
    drug, formulation, runs_out = data.get("drug"), data.get("formulation"), data.get("runs_out_on")
    if not drug or not formulation or not runs_out:
        return None
    day = format_day(locale, dt.date.fromisoformat(str(runs_out)))
    return (
        gettext(locale, "Time to refill your %(drug)s", drug=drug),
        gettext(
            locale,
            "Your %(drug)s (%(formulation)s) runs out on %(day)s. Ask for a refill now.",
            drug=drug,
            formulation=formulation,
            day=day,
        ),
    )


def _numeric(key: str, value: Any) -> Any:
    """Amounts stored as text ("daily_dose_mg": "7.5") go out as numbers."""
    if (key.endswith("_mg") or key in NUMERIC_FIELDS) and isinstance(value, str):
        try:
            return number(value)
        except (InvalidOperation, ValueError):
            return value
    return value
