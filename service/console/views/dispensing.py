"""A taper plan's dispensing table on its page: what to dispense for each period of 7,
14, 28 or 56 days, as GET /v1/taper-plans/{plan}/dispensing gives it, and its CSV
for the pharmacy (docs/clinical.md, "Supply and refills"). The console's cookie
session reaches the CSV here, where the API's address would want a bearer token."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from service.console.blueprint import bp
from service.console.session import console_ctx, signed_in
from service.domain.supply.dispensing import DEFAULT_PERIOD_DAYS
from service.usecases.dispensing import (
    DispensingView,
    csv_name,
    dispensing_csv,
    taper_dispensing,
)
from service.usecases.errors import Conflict, NotFound
from service.web.context import RequestContext

__all__ = ["dispensing_csv_download", "dispensing_fragment", "dispensing_parts"]

# Periods a prescriber writes for: a week, a fortnight, four and eight weeks.
PERIODS = (7, 14, 28, 56)
_PLAN = "/patients/<uuid:patient_id>/tapers/<uuid:plan_id>"


def asked_period() -> int:
    """?period_days= when it is one of the periods offered; four weeks otherwise."""
    raw = request.args.get("period_days", "")
    if raw.isascii() and raw.isdigit() and int(raw) in PERIODS:
        return int(raw)
    return DEFAULT_PERIOD_DAYS


def _table(
    c: RequestContext, patient_id: uuid.UUID, plan_id: uuid.UUID, period_days: int
) -> DispensingView:
    """The table, of a plan that must be the patient's the address names (404 as for
    a plan the caller may not see)."""
    view = taper_dispensing(**c.args(), kb=c.kb, plan_id=plan_id, period_days=period_days)
    if view.patient_id != patient_id:
        raise NotFound(f"No taper plan {plan_id}.")
    return view


def dispensing_parts(
    c: RequestContext, patient_id: uuid.UUID, plan_id: uuid.UUID
) -> dict[str, Any]:
    """What tapers/_dispensing.html shows: the table in the period asked for."""
    period_days = asked_period()
    try:
        table: DispensingView | None = _table(c, patient_id, plan_id, period_days)
        refused = None
    except Conflict as exc:
        table, refused = None, str(exc)
    return {
        "dispensing": table,
        "dispensing_refused": refused,
        "periods": PERIODS,
        "period_days": period_days,
    }


@bp.route(f"{_PLAN}/dispensing")
@signed_in
def dispensing_fragment(patient_id: uuid.UUID, plan_id: uuid.UUID) -> ResponseReturnValue:
    """The table alone, for htmx to swap in when another period is chosen; without
    htmx, the plan's page at the table."""
    parts = dispensing_parts(console_ctx(), patient_id, plan_id)
    if not request.headers.get("HX-Request"):
        return redirect(
            url_for(
                "console.taper_plan",
                patient_id=patient_id,
                plan_id=plan_id,
                period_days=asked_period(),
                _anchor="dispensing",
            )
        )
    return render_template("tapers/_dispensing.html", **parts)


@bp.route(f"{_PLAN}/dispensing.csv")
@signed_in
def dispensing_csv_download(patient_id: uuid.UUID, plan_id: uuid.UUID) -> Response:
    """The table as CSV, the same as GET /v1/taper-plans/{plan}/dispensing.csv."""
    view = _table(console_ctx(), patient_id, plan_id, asked_period())
    return Response(
        dispensing_csv(view),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{csv_name(view)}"'},
    )
