"""Orders from an EHR: `POST /fhir/R4/MedicationRequest`, and a `transaction` Bundle
of them at `POST /fhir/R4`, each prescribed through `create_prescription`, the use
case behind `POST /v1/patients/{id}/prescriptions`: the same access rule, checks,
findings and audit. A finding that needs an answer is a 409 OperationOutcome with an
issue per finding and how to answer it, an extension on the posted resource
(service/interop/fhir/orders.py). A transaction is all or nothing: its entries are
prescribed in one database transaction (service/web/transaction.py), rolled back
whole when any entry is refused."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response, g, request

from service.interop.fhir import (
    capabilities,
    detected_issues,
    medication_requests,
    orders,
    responses,
)
from service.interop.fhir.blueprint import AGENT, bp
from service.interop.fhir.elements import UNRESOLVED, Refused, is_object
from service.usecases import idempotency
from service.usecases import prescriptions as rx
from service.usecases.errors import InteractionConflict, ValidationFailed
from service.usecases.prescriptions import PrescriptionRecord
from service.web import transaction
from service.web.bearer import require_auth
from service.web.context import RequestContext, ctx

MAX_ENTRIES = 100
_JSON_TYPES = ("application/fhir+json", "application/json")

capabilities.declare(
    "MedicationRequest",
    interactions=["create"],
    documentation=(
        "create: an order prescribed through the same checks as /v1; findings that need "
        "an answer are a 409 OperationOutcome, answered by the extensions "
        f"{orders.ACKNOWLEDGEMENT} and {orders.OVERRIDE} (docs/interop.md)."
    ),
)
capabilities.declare_system("transaction")

# /v1's field paths, as the elements of a MedicationRequest that gave them (under
# dosageInstruction[0]); the first prefix that matches names the element.
_ELEMENT_OF = (
    ("drug", "medicationCodeableConcept"),
    ("dose.unit", "dosageInstruction[0].doseAndRate[0].doseQuantity.unit"),
    ("dose", "dosageInstruction[0].doseAndRate[0].doseQuantity.value"),
    ("route", "dosageInstruction[0].route"),
    ("schedule.times", "dosageInstruction[0].timing.repeat.timeOfDay"),
    ("schedule.days_of_week", "dosageInstruction[0].timing.repeat.dayOfWeek"),
    ("schedule.every_n_days", "dosageInstruction[0].timing.repeat.period"),
    ("schedule.min_hours_between", "dosageInstruction[0].timing.repeat.period"),
    ("schedule.max_doses_per_day", "dosageInstruction[0].maxDosePerPeriod"),
    ("schedule.amounts", "dosageInstruction"),
    ("schedule", "dosageInstruction[0].timing"),
    ("start_date", "dosageInstruction[0].timing.repeat.boundsPeriod.start"),
    ("end_date", "dosageInstruction[0].timing.repeat.boundsPeriod.end"),
    ("instructions", "dosageInstruction[0].patientInstruction"),
)


def _body() -> Any:
    """The posted JSON (the app has already refused a body that does not decode).
    A conditional create, or a create with an Idempotency-Key (as /v1 takes), is
    refused rather than run as a plain one: a retry would then create the order
    twice, since medtrack keeps no EHR order identifiers or keys here to match."""
    for header, what in (
        ("If-None-Exist", "Conditional create (If-None-Exist)"),
        ("Idempotency-Key", "Idempotency-Key"),
    ):
        if header in request.headers:
            raise Refused(
                400,
                f"{what} is not supported on the FHIR API; post without it.",
                [(header, "Not supported.")],
            )
    if request.mimetype not in _JSON_TYPES:
        raise Refused(415, "Send the body as application/fhir+json.", [])
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except ValueError as exc:
        raise Refused(400, "The body is not valid JSON.", []) from exc


def _refused(error: Refused) -> Response:
    code = "invalid" if error.status in (400, 422) else "not-supported"
    issues = [responses.issue(code, error.message)]
    issues += [
        responses.issue(
            "code-invalid" if text.startswith(UNRESOLVED) else code, text, expression=[path]
        )
        for path, text in error.problems
    ]
    return responses.outcome(error.status, issues)


def _invalid(error: ValidationFailed, at: str) -> Response:
    """The use case's 422, its field paths given as the MedicationRequest's elements."""
    problems = []
    for path, texts in error.errors.items():
        element = next((e for prefix, e in _ELEMENT_OF if path.startswith(prefix)), None)
        where = f"{at}.{element}" if element else at
        problems += [(where, f"{path}: {text}" if element is None else text) for text in texts]
    return _refused(Refused(422, error.message, problems))


def _finding_issue(finding: Mapping[str, Any], at: str) -> dict[str, Any]:
    """One finding: what it is, what to do about it, and the answer it needs."""
    key, severity = str(finding["id"]), str(finding["severity"])
    drugs = " with ".join(str(d.get("resolved") or d.get("input")) for d in finding["drugs"])
    if severity == "contraindicated":
        answer = (
            f"to prescribe anyway, add the extension {orders.OVERRIDE} with the reason "
            "as valueString"
        )
    else:
        answer = (
            f"to prescribe having read it, add the extension {orders.ACKNOWLEDGEMENT} "
            f'with valueString "{key}"'
        )
    text = f"{severity.capitalize()} {finding['kind']} finding"
    text += f" ({drugs})" if drugs else ""
    diagnostics = f"{text}: {finding['effect']} {finding['management']} To proceed: {answer}."
    return responses.issue(
        "business-rule",
        diagnostics,
        expression=[f"{at}.medicationCodeableConcept"],
        extension=[{"url": orders.FINDING_SEVERITY, "valueCode": severity}],
        details={
            "coding": [
                {
                    "system": orders.FINDING_KEYS,
                    "code": key,
                    "display": f"{severity} {finding['rule']}".strip(),
                }
            ],
            "text": text,
        },
    )


def _conflict(error: InteractionConflict, at: str) -> Response:
    """409: the findings that need an answer, one issue each, after how to answer."""
    how = (
        f"{error.message} Post the {at} again with an extension answering each finding: "
        f"{orders.ACKNOWLEDGEMENT} (valueString: the finding's key, details.coding.code) "
        f"for a major finding read, or {orders.OVERRIDE} (valueString: the reason) to "
        "override every contraindicated and major finding. Knowledge base: "
        f"{error.knowledge_base_version}."
    )
    issues = [responses.issue("conflict", how, expression=[at])]
    issues += [_finding_issue(f, at) for f in error.findings]
    return responses.outcome(409, issues)


def _prescribe(context: RequestContext, order: orders.Order) -> PrescriptionRecord:
    return rx.create_prescription(
        **context.planning_args(),
        patient_id=order.patient_id,
        terms=order.terms,
        screening=order.screening,
    )


def _created(context: RequestContext, rec: PrescriptionRecord) -> dict[str, Any]:
    """The created MedicationRequest, with the findings that did not stop it (moderate
    and minor ones, and those answered) contained and referred to from
    `detectedIssue`, so the prescriber sees what /v1's answer would show."""
    body = medication_requests.resource_of(rec, catalog=context.kb.catalog)
    found = detected_issues.found_with(rec)
    if found:
        body["contained"] = [*body.get("contained", ()), *found]
        body["detectedIssue"] = [{"reference": f"#{issue['id']}"} for issue in found]
    return body


def _location(rec: PrescriptionRecord) -> str:
    return f"MedicationRequest/{rec.id}/_history/{rec.version}"


@bp.post("/MedicationRequest")
@require_auth
def create_medication_request() -> Response:
    """Prescribe what the MedicationRequest orders (201, with the created resource)."""
    context = ctx(AGENT)
    try:
        order = orders.read_order(_body(), context.kb.catalog)
    except Refused as error:
        return _refused(error)
    at = orders.RESOURCE_TYPE
    try:
        rec = _prescribe(context, order)
    except InteractionConflict as error:
        return _conflict(error, at)
    except ValidationFailed as error:
        return _invalid(error, at)
    return responses.resource(
        _created(context, rec),
        201,
        Location=f"{responses.base_url()}/{_location(rec)}",
        ETag=f'W/"{rec.version}"',
    )


def _entries(body: Any) -> list[tuple[str, Any]]:
    """Each entry's path and MedicationRequest, or Refused naming what is wrong."""
    if not is_object(body) or body.get("resourceType") != "Bundle":
        raise Refused(400, "Send a Bundle of type transaction.", [("Bundle", "Not a Bundle.")])
    if body.get("type") != "transaction":
        raise Refused(
            422, "Only transaction Bundles are taken.", [("Bundle.type", "Must be transaction.")]
        )
    entries = body.get("entry", [])
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        message = f"A list of at most {MAX_ENTRIES} entries."
        raise Refused(422, message, [("Bundle.entry", message)])
    out, problems = [], []
    for i, entry in enumerate(entries):
        at = f"Bundle.entry[{i}]"
        req = entry.get("request") if is_object(entry) else None
        if not is_object(entry) or set(entry) - {"fullUrl", "resource", "request"}:
            problems.append((at, "An entry is fullUrl, resource and request."))
        elif not is_object(req) or dict(req) != {"method": "POST", "url": "MedicationRequest"}:
            problems.append(
                (f"{at}.request", 'Only {"method": "POST", "url": "MedicationRequest"}.')
            )
        else:
            out.append((f"{at}.resource", entry.get("resource")))
    if problems:
        raise Refused(422, "The transaction creates MedicationRequests only.", problems)
    return out


def _read_all(entries: Sequence[tuple[str, Any]], context: RequestContext) -> list[orders.Order]:
    """Every entry read before anything is written; their problems together."""
    read, problems, status = [], [], 0
    for at, resource in entries:
        try:
            read.append(orders.read_order(resource, context.kb.catalog, at=at))
        except Refused as error:
            problems += error.problems
            status = max(status, error.status)
    if problems:
        raise Refused(status, "Some entries cannot be read; nothing was created.", problems)
    return read


@bp.post("")
@require_auth
def transaction_bundle() -> Response:
    """Prescribe every entry, or none: a transaction-response Bundle (200)."""
    context = ctx(AGENT)
    try:
        entries = _entries(_body())
        read = _read_all(entries, context)
    except Refused as error:
        return _refused(error)
    transaction.open_transaction(
        user_id=g.principal.user_id,
        expired_before=idempotency.expired_before(
            context.clock(), context.settings.idempotency_ttl
        ),
    )
    created: list[PrescriptionRecord] = []
    try:
        for (at, _), order in zip(entries, read, strict=True):
            try:
                created.append(_prescribe(context, order))
            except InteractionConflict as error:
                transaction.close_transaction(commit=False)
                return _conflict(error, at)
            except ValidationFailed as error:
                transaction.close_transaction(commit=False)
                return _invalid(error, at)
    except BaseException:
        # A refusal (403, 404) is audited by the error handler, after the rollback.
        transaction.close_transaction(commit=False)
        raise
    transaction.close_transaction(commit=True)
    return responses.resource(_transaction_response(context, created))


def _transaction_response(
    context: RequestContext, created: Sequence[PrescriptionRecord]
) -> dict[str, Any]:
    base = responses.base_url()
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {
                "fullUrl": f"{base}/MedicationRequest/{rec.id}",
                "resource": _created(context, rec),
                "response": {
                    "status": "201 Created",
                    "location": _location(rec),
                    "etag": f'W/"{rec.version}"',
                },
            }
            for rec in created
        ],
    }
