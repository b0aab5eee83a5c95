"""Recording supply from the chart: a dispense, or a count of what is left, as POST
/v1/.../supplies and .../supplies/count record them (the same schemas, the same use
case, the same audit entries). A refused form comes back on the chart beside the
fields it names; a recorded one sends the clinician back to the prescription's
Supply panel."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError

from service.console.blueprint import bp
from service.console.errors import page
from service.console.forms import field_errors
from service.console.session import console_ctx, signed_in
from service.console.views.chart import chart_page
from service.console.views.tapers_form import Form, number
from service.domain.errors import DomainValidationError
from service.domain.supply.stock import EntryKind
from service.usecases.errors import Conflict
from service.usecases.supply import SupplyEntryView, record_supply
from service.web.refusals import status_of
from service.web.schemas.supply import CountSchema, DispenseSchema

__all__ = ["record_supply_form"]

# Each form: the kind of entry, and the API's schema of its body.
KINDS: dict[str, tuple[EntryKind, Schema]] = {
    "dispense": (EntryKind.DISPENSED, DispenseSchema()),
    "count": (EntryKind.COUNTED, CountSchema()),
}
CHECK_THE_FORM = "Check the supply form."


def form_body(form: Form, kind: str) -> dict[str, Any]:
    """The body the API would receive: the quantity as a JSON number where it reads as
    one (as typed otherwise, for the schema to refuse), blank fields left out."""
    body: dict[str, Any] = {"formulation": form.get("formulation", "")}
    quantity = number(form.get("quantity"))
    if quantity is not None:
        body["quantity"] = quantity
    on = form.get("dispensed_on", "").strip()
    if kind == "dispense" and on:
        body["dispensed_on"] = on
    return body


def _units(entry: SupplyEntryView) -> str:
    if entry.unit == "tablet":
        return "tablet" if entry.quantity == 1 else "tablets"
    return entry.unit


def _told(entry: SupplyEntryView) -> str:
    amount = f"{format(entry.quantity.normalize(), 'f')} {_units(entry)}"
    if entry.kind == EntryKind.DISPENSED.value and entry.dispensed_on is not None:
        return (
            f"Dispense recorded: {amount} of {entry.formulation} "
            f"on {entry.dispensed_on.isoformat()}."
        )
    return f"Count recorded: {amount} of {entry.formulation} left."


def _prescription_id(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw or "")
    except ValueError:
        return None


# The prescription is a field of the form, as the taper planner's forms name theirs.
@bp.route(
    "/patients/<uuid:patient_id>/supply/dispense", methods=["POST"], defaults={"kind": "dispense"}
)
@bp.route("/patients/<uuid:patient_id>/supply/count", methods=["POST"], defaults={"kind": "count"})
@signed_in
def record_supply_form(patient_id: uuid.UUID, kind: str) -> ResponseReturnValue:
    """A dispense or a count, refused or recorded as the API refuses or records it."""
    entry_kind, schema = KINDS[kind]
    rx_id = _prescription_id(request.form.get("prescription"))
    if rx_id is None:
        return page(
            422,
            "Record supply from the prescription's Supply panel on the patient's chart.",
            {"prescription": ["Not a valid prescription id."]},
        )
    c = console_ctx()
    refused: dict[str, Any] = {"rx": rx_id, "kind": kind, "typed": request.form.to_dict()}
    try:
        body = schema.load(form_body(request.form, kind))
        entry = record_supply(
            **c.args(),
            kb=c.kb,
            policy=c.reminders,
            patient_id=patient_id,
            rx_id=rx_id,
            kind=entry_kind,
            formulation=body["formulation"],
            quantity=body["quantity"],
            dispensed_on=body.get("dispensed_on"),
        )
    except ValidationError as exc:
        return chart_page(
            patient_id, 422, message=CHECK_THE_FORM, errors=field_errors(exc), **refused
        )
    except DomainValidationError as exc:
        return chart_page(patient_id, 422, message=CHECK_THE_FORM, errors=exc.errors, **refused)
    except Conflict as exc:
        return chart_page(
            patient_id, status_of(exc), message=exc.message, errors=exc.errors, **refused
        )
    flash(_told(entry))
    back = url_for("console.patient_chart", patient_id=patient_id, _anchor=f"supply-{rx_id}")
    return redirect(back)
