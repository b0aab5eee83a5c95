"""Supply of a prescription: dispenses and counts, the forecast along the plan, and
a taper's dispensing table (docs/clinical.md, "Supply and refills")."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from service.api import examples
from service.api.context import ctx, require_auth
from service.api.docs import AUTH, errors
from service.api.lists import list_response
from service.api.queries import query_args
from service.domain.supply.dispensing import Line
from service.domain.supply.stock import EntryKind
from service.usecases import dispensing, supply, supply_forecast
from service.usecases.dispensing import DispensingView
from service.usecases.supply import SupplyEntryView
from service.usecases.supply_forecast import SupplyForecast
from service.web.schemas.supply import (
    CountSchema,
    DispenseSchema,
    DispensingQuery,
    DispensingSchema,
    SupplyEntrySchema,
    SupplyForecastSchema,
)

blp = Blueprint("supply", __name__, url_prefix="/v1", description="Supply and refills")
_RX = "/patients/<uuid:patient_id>/prescriptions/<uuid:rx_id>"


def _record(
    kind: EntryKind, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID
) -> SupplyEntryView:
    c = ctx()
    return supply.record_supply(
        **c.args(),
        kb=c.kb,
        policy=c.reminders,
        patient_id=patient_id,
        rx_id=rx_id,
        kind=kind,
        formulation=body["formulation"],
        quantity=body["quantity"],
        dispensed_on=body.get("dispensed_on"),
    )


@blp.route(f"{_RX}/supplies")
class Supplies(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="list_supplies")
    @list_response(blp, SupplyEntrySchema, example=examples.response("list_supplies"), paged=False)
    @errors(blp, *AUTH, 404)
    def get(self, patient_id: uuid.UUID, rx_id: uuid.UUID) -> list[SupplyEntryView]:
        """The prescription's dispenses and counts, oldest first."""
        return supply.list_supplies(**ctx().args(), patient_id=patient_id, rx_id=rx_id)

    @blp.doc(operationId="record_dispense")
    @blp.arguments(DispenseSchema, example=examples.request("record_dispense"))
    @blp.response(201, SupplyEntrySchema, example=examples.response("record_dispense"))
    @errors(blp, *AUTH, 403, 404, 409, 422)
    def post(
        self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID
    ) -> SupplyEntryView:
        """Record a dispense of one formulation (the patient or a clinician on the care
        team): it adds to what is on hand from the start of `dispensed_on`."""
        return _record(EntryKind.DISPENSED, body, patient_id, rx_id)


@blp.route(f"{_RX}/supplies/count")
class SupplyCount(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="record_supply_count")
    @blp.arguments(CountSchema, example=examples.request("record_supply_count"))
    @blp.response(201, SupplyEntrySchema, example=examples.response("record_supply_count"))
    @errors(blp, *AUTH, 403, 404, 409, 422)
    def post(
        self, body: dict[str, Any], patient_id: uuid.UUID, rx_id: uuid.UUID
    ) -> SupplyEntryView:
        """Record a count of what is left ("I have 14 left"): on hand is reset to it,
        and the doses taken after it draw it down."""
        return _record(EntryKind.COUNTED, body, patient_id, rx_id)


@blp.route(f"{_RX}/supply")
class Supply(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_supply_forecast")
    @blp.response(200, SupplyForecastSchema, example=examples.response("get_supply_forecast"))
    @errors(blp, *AUTH, 404)
    def get(self, patient_id: uuid.UUID, rx_id: uuid.UUID) -> dict[str, Any]:
        """Per formulation: on hand, today's use, the date it runs out and whether that is
        before the plan ends (with the shortfall). The daily use follows the approved
        taper's coming steps and formulations, not today's dose; an as-needed drug's
        follows its use over the last four weeks."""
        c = ctx()
        found = supply_forecast.supply_forecast(
            **c.args(), kb=c.kb, policy=c.reminders, patient_id=patient_id, rx_id=rx_id
        )
        return forecast_out(found)


def forecast_out(f: SupplyForecast) -> dict[str, Any]:
    return {
        "prescription_id": f.prescription_id,
        "drug": f.drug,
        "today": f.today,
        "basis": f.basis,
        "taper_plan_status": f.taper_plan_status,
        "refill_threshold_days": f.refill_threshold_days,
        "use_unknown": f.use_unknown,
        "formulations": [
            {
                "formulation": s.outlook.formulation,
                "unit": s.unit,
                "tracked": s.tracked,
                "on_hand": s.outlook.on_hand,
                "daily_use": s.outlook.daily_use,
                "runs_out_on": s.outlook.runs_out_on,
                "days_left": s.outlook.days_left,
                "plan_ends_on": s.outlook.plan_ends_on,
                "runs_out_before_plan_ends": s.outlook.runs_out_before_plan_ends,
                "shortfall": s.outlook.shortfall,
                "refill_due": s.refill_due,
                "use_changes": [
                    {"starts_on": c.on, "daily_use": c.daily_use} for c in s.outlook.changes
                ],
            }
            for s in f.formulations
        ],
    }


def _line(line: Line) -> dict[str, Any]:
    return {
        "formulation": line.formulation,
        "unit": line.unit,
        "needed": line.needed,
        "carried_in": line.carried_in,
        "dispense": line.dispense,
        "bottles": [{"size_ml": size, "count": n} for size, n in line.bottles],
        "left_over": line.left_over,
    }


def dispensing_out(v: DispensingView) -> dict[str, Any]:
    t = v.table
    return {
        "plan_id": v.plan_id,
        "prescription_id": v.prescription_id,
        "drug": v.drug,
        "status": v.status,
        "plan_version": v.plan_version,
        "period_days": t.period_days,
        "start": t.start,
        "end": t.end,
        "periods": [
            {"index": p.index, "start": p.start, "end": p.end, "lines": [_line(x) for x in p.lines]}
            for p in t.periods
        ],
        "totals": [_line(x) for x in t.totals],
    }


def _dispensing(plan_id: uuid.UUID, query: dict[str, Any]) -> DispensingView:
    c = ctx()
    return dispensing.taper_dispensing(
        **c.args(), kb=c.kb, plan_id=plan_id, period_days=query["period_days"]
    )


@blp.route("/taper-plans/<uuid:plan_id>/dispensing")
class Dispensing(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_taper_dispensing")
    @query_args(blp, DispensingQuery)
    @blp.response(200, DispensingSchema, example=examples.response("get_taper_dispensing"))
    @errors(blp, *AUTH, 404, 409)
    def get(self, query: dict[str, Any], plan_id: uuid.UUID) -> dict[str, Any]:
        """For each period from the plan's start: the whole tablets of each strength and
        the mL of each liquid (in whole bottles where the catalog lists their sizes)
        that cover its doses, counting what is left from the period before; and the
        totals over the plan."""
        return dispensing_out(_dispensing(plan_id, query))


@blp.route("/taper-plans/<uuid:plan_id>/dispensing.csv")
class DispensingCsv(MethodView):
    decorators = [require_auth]

    @blp.doc(operationId="get_taper_dispensing_csv")
    @query_args(blp, DispensingQuery)
    @blp.response(
        200,
        content_type="text/csv",
        description="Columns: period, start, end, formulation, unit, needed, carried_in, "
        "dispense, bottles, left_over; the last rows are the totals.",
    )
    @errors(blp, *AUTH, 404, 409)
    def get(self, query: dict[str, Any], plan_id: uuid.UUID) -> Response:
        """The dispensing table as CSV, for the pharmacy."""
        view = _dispensing(plan_id, query)
        return Response(
            dispensing.dispensing_csv(view),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{dispensing.csv_name(view)}"'},
        )
