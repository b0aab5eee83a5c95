"""FHIR MedicationRequest: each prescription, read through the prescription use cases
(the access rule and read audit of /v1), its medication coded by RxNorm, ATC and
text, its schedule as Dosage (service.interop.fhir.dosage), a taper plan under
way (approved, active or paused) as one sequenced dosage instruction per step, and
its supply as `dispenseRequest` (service.interop.fhir.dispense).

Status: medtrack's `active` is FHIR `active`, `paused` is `on-hold` and
`discontinued` is `stopped` (FHIR R4 value set medicationrequest-status); the
`status` search parameter takes the FHIR tokens.

Versions: every change of a prescription is a new version; `meta.versionId` is its
number, `_history` lists them newest first and `_history/<n>` reads one. The plan's
steps stand in the version in force (the current one), the older versions show
their own terms.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response

from service.domain.catalog import Catalog
from service.domain.prescriptions import Status
from service.domain.taper.status import UNDER_WAY, PlanStatus
from service.interop import coding
from service.interop.fhir import capabilities, dispense, dosage, extensions, responses, search
from service.interop.fhir.blueprint import AGENT, bp
from service.interop.fhir.capabilities import SearchParam
from service.usecases import patients, supply_fhir, taper_finding, taper_reporting
from service.usecases.prescriptions import reading
from service.usecases.prescriptions.views import PrescriptionRecord
from service.usecases.supply_fhir import DispenseFacts
from service.usecases.taper_reporting import TaperPlanView
from service.web.bearer import require_auth
from service.web.context import ctx

STATUS_OF = {
    Status.ACTIVE.value: "active",
    Status.PAUSED.value: "on-hold",
    Status.DISCONTINUED.value: "stopped",
}
MEDTRACK_STATUS = {fhir: Status(ours) for ours, fhir in STATUS_OF.items()}
TAPER_EXTENSION = extensions.structure("taper-plan")
# The most plans read to find those of one page of prescriptions.
_PLANS_READ = 1000

capabilities.declare(
    "MedicationRequest",
    interactions=["read", "vread", "history-instance", "search-type"],
    search_params=[
        SearchParam("patient", "reference", "The patient (required): patient=<id>."),
        SearchParam(
            "status",
            "token",
            "active, on-hold (paused) or stopped (discontinued).",
        ),
    ],
    documentation=(
        "Prescriptions. A prescription under a taper plan that is approved, active or "
        "paused carries one dosageInstruction per step (sequence, boundsPeriod)."
    ),
)


def _instant(value: dt.datetime) -> str:
    """A FHIR instant; medtrack's instants are UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def _taper_extension(plan: TaperPlanView, proposal: str | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {
            "url": "plan",
            "valueIdentifier": {
                "system": extensions.identifier_system("taper-plan"),
                "value": str(plan.id),
            },
        },
        {"url": "status", "valueCode": plan.status},
        {"url": "version", "valueInteger": plan.version},
    ]
    if proposal is not None:
        parts.append({"url": "proposal", "valueReference": {"reference": f"#{proposal}"}})
    return {"url": TAPER_EXTENSION, "extension": parts}


def _proposal(rec: PrescriptionRecord, plan: TaperPlanView, medication: Any) -> dict[str, Any]:
    """A draft plan as the EHR can see it before approval: a contained
    MedicationRequest (status draft, intent plan) with the steps it proposes."""
    return {
        "resourceType": "MedicationRequest",
        "id": f"taper-{plan.id}",
        "status": "draft",
        "intent": "plan",
        "medicationCodeableConcept": medication,
        "subject": {"reference": f"Patient/{rec.patient_id}"},
        "dosageInstruction": dosage.taper_dosages(plan.steps, route_name=rec.route),
    }


def _dosage_instructions(rec: PrescriptionRecord, plan: TaperPlanView | None) -> list[Any]:
    if plan is not None and PlanStatus(plan.status) in UNDER_WAY:
        return dosage.taper_dosages(plan.steps, route_name=rec.route)
    return dosage.dosages(
        schedule=rec.schedule,
        amount=rec.dose.amount,
        unit=rec.dose.unit,
        route_name=rec.route,
        start=rec.start_date,
        end=rec.end_date,
        instructions=rec.instructions,
    )


def resource_of(
    rec: PrescriptionRecord,
    *,
    catalog: Catalog,
    plan: TaperPlanView | None = None,
    names: Mapping[uuid.UUID, str] | None = None,
    supply: DispenseFacts | None = None,
) -> dict[str, Any]:
    """One version of a prescription as a FHIR MedicationRequest. `plan` is its taper
    plan in progress, if the caller has read it: under way, its steps are the dosage
    instructions; a draft is contained as a proposal (status draft, intent plan).
    `names` gives the display of the version's author (the care team's names);
    `supply` what its dispenseRequest says."""
    medication = coding.medication_concept(catalog, rec.drug_id, rec.drug)
    requester: dict[str, Any] = {
        "identifier": {
            "system": extensions.identifier_system("user"),
            "value": str(rec.created_by),
        }
    }
    if names and rec.created_by in names:
        requester["display"] = names[rec.created_by]
    body: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": str(rec.id),
        "meta": {"versionId": str(rec.version), "lastUpdated": _instant(rec.updated_at)},
        "identifier": [
            {"system": extensions.identifier_system("prescription"), "value": str(rec.id)}
        ],
        "status": STATUS_OF[rec.status],
        "intent": "order",
        "medicationCodeableConcept": medication,
        "subject": {"reference": f"Patient/{rec.patient_id}"},
        "authoredOn": _instant(rec.created_at),
        "requester": requester,
        "dosageInstruction": _dosage_instructions(rec, plan),
    }
    if supply is not None:
        body["dispenseRequest"] = dispense.dispense_request(supply)
    why = rec.abrupt_stop_reason or rec.reason
    if rec.status != Status.ACTIVE.value and why:
        body["statusReason"] = {"text": why}
    if rec.reason:
        body["note"] = [{"text": f"Reason for this version ({rec.change}): {rec.reason}"}]
    if plan is not None:
        proposal = None
        if PlanStatus(plan.status) is PlanStatus.DRAFT:
            contained = _proposal(rec, plan, medication)
            body["contained"] = [contained]
            proposal = contained["id"]
        body["extension"] = [_taper_extension(plan, proposal)]
    return body


def catalog_of() -> Catalog:
    return ctx(AGENT).kb.catalog


def names_of(patient_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The care team's names, for the display of who wrote each version."""
    team = patients.get_care_team(**ctx(AGENT).args(), patient_id=patient_id)
    return {member.clinician_id: member.name for member in team}


def supply_of(
    patient_id: uuid.UUID, records: Sequence[PrescriptionRecord]
) -> dict[uuid.UUID, DispenseFacts]:
    """What the dispenseRequest of each of these prescriptions says, in one read."""
    if not records:
        return {}
    context = ctx(AGENT)
    return supply_fhir.dispense_facts(
        **context.args(),
        kb=context.kb,
        policy=context.reminders,
        patient_id=patient_id,
        rx_ids=[r.id for r in records],
    )


def plan_of(rec: PrescriptionRecord) -> TaperPlanView | None:
    if rec.taper_plan_id is None:
        return None
    return taper_reporting.get_taper_plan(**ctx(AGENT).args(), plan_id=rec.taper_plan_id)


def _plans_of(
    patient_id: uuid.UUID, records: Sequence[PrescriptionRecord]
) -> dict[uuid.UUID | None, TaperPlanView]:
    """The plans in progress of these prescriptions, by plan id, in one audited read."""
    wanted = {r.taper_plan_id for r in records if r.taper_plan_id is not None}
    if not wanted:
        return {}
    page = taper_finding.list_patient_taper_plans(
        **ctx(AGENT).args(), patient_id=patient_id, limit=_PLANS_READ, offset=0
    )
    return {p.id: p for p in page if p.id in wanted}


def search_patient(
    patient_id: uuid.UUID, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the patient's prescriptions as MedicationRequests, and the total."""
    page = reading.list_prescriptions(
        **ctx(AGENT).args(),
        patient_id=patient_id,
        status=MEDTRACK_STATUS[status] if status else None,
        limit=limit,
        offset=offset,
    )
    records = list(page)
    plans, supply = _plans_of(patient_id, records), supply_of(patient_id, records)
    catalog, names = catalog_of(), names_of(patient_id)
    found = [
        resource_of(
            r,
            catalog=catalog,
            plan=plans.get(r.taper_plan_id),
            names=names,
            supply=supply.get(r.id),
        )
        for r in records
    ]
    return found, page.total


def for_patient(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The patient's prescriptions (every status) in their $everything."""
    return search.every_page(lambda limit, offset: search_patient(patient_id, None, limit, offset))


@bp.get("/MedicationRequest/<uuid:rx_id>")
@require_auth
def read_medication_request(rx_id: uuid.UUID) -> Response:
    search.allow(())
    args = ctx(AGENT).args()
    patient_id = reading.patient_of_prescription(
        uow=args["uow"], caller=args["caller"], rx_id=rx_id
    )
    rec = reading.get_prescription(**ctx(AGENT).args(), patient_id=patient_id, rx_id=rx_id)
    body = resource_of(
        rec,
        catalog=catalog_of(),
        plan=plan_of(rec),
        names=names_of(patient_id),
        supply=supply_of(patient_id, [rec]).get(rec.id),
    )
    return responses.resource(body, ETag=f'W/"{rec.version}"')


@bp.get("/MedicationRequest")
@require_auth
def search_medication_requests() -> Response:
    search.allow(("patient", "status"))
    patient_id = search.reference_id("patient", "Patient")
    assert patient_id is not None
    status = search.token("status", tuple(STATUS_OF.values()))
    limit, offset = search.paging()
    found, total = search_patient(patient_id, status, limit, offset)
    links = search.page_links(offset, limit, total)
    return responses.resource(responses.searchset(found, total=total, links=links))


# The _history interactions (history-instance, vread) add their routes beside these.
from service.interop.fhir import medication_request_history  # noqa: E402, F401
