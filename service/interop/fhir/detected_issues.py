"""FHIR DetectedIssue: the findings of the latest screening of the patient's whole
record (interactions, duplicate therapy, allergy, condition, age and dose-range
findings), read through the same use case as the JSON API's findings, so a patient
reads them in their own words and never a clinician's reason.

Severity: medtrack's `contraindicated` and `major` are FHIR `high`, `moderate` is
`moderate`, `minor` is `low`; medtrack's own severity is kept in the extension
`finding-severity` (valueCode) so that contraindicated and major stay apart. The
kind of finding is `code`, in the code system `finding-kind`. `implicated` names the
MedicationRequests involved (a product the patient reports has no MedicationRequest
and is named by display only). An acknowledged finding has one `mitigation`: action
`acknowledged` (code system `finding-answer`), its date, the clinician as author, and
their reason as the action's text. The record keeps an override made at prescribing
as an acknowledgement with the override's reason, so both are served as
`acknowledged`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import Response

from service.domain.findings import Answer
from service.domain.severity import Severity
from service.interop.fhir import search
from service.interop.fhir.blueprint import AGENT, bp
from service.interop.fhir.capabilities import SearchParam, declare
from service.interop.fhir.extensions import code_system, identifier_system, structure
from service.usecases.prescriptions import PrescriptionRecord
from service.usecases.record.findings import list_findings
from service.usecases.record.views import FindingView
from service.web.bearer import require_auth
from service.web.context import ctx

FINDING_KIND = code_system("finding-kind")
FINDING_ANSWER = code_system("finding-answer")
FINDING_SEVERITY = structure("finding-severity")
# medtrack's severity -> FHIR DetectedIssue.severity (value set detectedissue-severity).
SEVERITY = {
    Severity.CONTRAINDICATED: "high",
    Severity.MAJOR: "high",
    Severity.MODERATE: "moderate",
    Severity.MINOR: "low",
}

declare(
    "DetectedIssue",
    interactions=["search-type"],
    search_params=[SearchParam("patient", "reference", "The patient whose findings (required).")],
    documentation=(
        "The findings of the latest screening of the whole record. Severity: "
        "contraindicated and major -> high, moderate -> moderate, minor -> low; "
        f"medtrack's own in the extension {FINDING_SEVERITY}."
    ),
)


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(v) for v in value if v)
    return str(value or "")


def _sources(sources: Any) -> str:
    cited = [
        f"{str(s.get('citation')).rstrip('.')} ({s['url']})"
        if s.get("url")
        else str(s.get("citation"))
        for s in sources or ()
        if isinstance(s, Mapping)
    ]
    return "Sources: " + "; ".join(cited) + "." if cited else ""


def _detail(view: FindingView) -> str:
    """What was found and why, with its sources: the clinical text for the care team,
    the patient's summary for the patient (as the use case gives each)."""
    d = view.detail
    if "mechanism" in d or "effect" in d:
        parts = [
            _text(d.get("effect")),
            f"Mechanism: {_text(d.get('mechanism'))}" if d.get("mechanism") else "",
            f"Management: {_text(d.get('management'))}" if d.get("management") else "",
            _sources(d.get("sources")),
            f"Knowledge base: {view.knowledge_base_version}.",
        ]
    else:
        summary = d.get("patient_summary") or {}
        parts = [
            _text(summary.get("means")),
            _text(summary.get("watch_for")),
            _text(summary.get("when_to_call")),
            _sources(summary.get("sources")),
        ]
    return " ".join(p.strip() for p in parts if p and p.strip())


def _implicated(view: FindingView) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for drug in view.detail.get("drugs", ()):
        name = str(drug.get("resolved") or drug.get("input") or "")
        if drug.get("prescription_id"):
            out.append(
                {"reference": f"MedicationRequest/{drug['prescription_id']}", "display": name}
            )
        elif drug.get("reported_product_id"):
            out.append({"display": f"{name} (reported by the patient)"})
    return out


def _mitigation(view: FindingView) -> list[dict[str, Any]]:
    if view.acknowledged_at is None:
        return []
    # An answer given before its kind was recorded reads as acknowledged: the
    # finding was answered, and nothing says it was overridden.
    answer = Answer(view.acknowledged_as or Answer.ACKNOWLEDGED.value)
    action: dict[str, Any] = {
        "coding": [
            {"system": FINDING_ANSWER, "code": answer.value, "display": answer.value.capitalize()}
        ]
    }
    if view.acknowledged_reason:
        action["text"] = view.acknowledged_reason
    mitigation: dict[str, Any] = {"action": action, "date": view.acknowledged_at.isoformat()}
    if view.acknowledged_by is not None:
        # By identifier: medtrack serves no Practitioner resource to refer to.
        mitigation["author"] = {
            "type": "Practitioner",
            "identifier": {"system": identifier_system("user"), "value": str(view.acknowledged_by)},
        }
    return [mitigation]


def detected_issue(patient_id: uuid.UUID, view: FindingView) -> dict[str, Any]:
    """One finding as a DetectedIssue."""
    severity = Severity(view.severity)
    body: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "id": view.id,
        "extension": [{"url": FINDING_SEVERITY, "valueCode": severity.value}],
        "status": "final",
        "code": {"coding": [{"system": FINDING_KIND, "code": view.kind}], "text": view.kind},
        "severity": SEVERITY[severity],
        "patient": {"reference": f"Patient/{patient_id}"},
        "identifiedDateTime": view.found_at.isoformat(),
        "detail": _detail(view),
    }
    implicated = _implicated(view)
    if implicated:
        body["implicated"] = implicated
    mitigation = _mitigation(view)
    if mitigation:
        body["mitigation"] = mitigation
    if not body["detail"]:
        del body["detail"]
    return body


def found_with(rec: PrescriptionRecord) -> list[dict[str, Any]]:
    """The findings stored with a prescription as it was made (those that did not stop
    it: moderate and minor ones, and those answered), as DetectedIssues to contain in
    its MedicationRequest, each with its id as the finding's key."""
    issues = []
    for finding in rec.findings:
        answer = finding.get("resolution")
        view = FindingView(
            id=str(finding["id"]),
            kind=str(finding["kind"]),
            severity=str(finding["severity"]),
            detail=dict(finding),
            knowledge_base_version=str(finding.get("knowledge_base_version") or ""),
            cause="prescription.create",
            found_at=rec.created_at,
            acknowledged_by=rec.created_by if answer else None,
            acknowledged_at=rec.created_at if answer else None,
            acknowledged_reason=finding.get("reason") if answer else None,
            acknowledged_as=answer if answer in {a.value for a in Answer} else None,
            care_team_notified_at=None,
        )
        issues.append(detected_issue(rec.patient_id, view))
    return issues


def _read(patient_id: uuid.UUID, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    page = list_findings(**ctx(AGENT).args(), patient_id=patient_id, limit=limit, offset=offset)
    return [detected_issue(patient_id, v) for v in page], page.total


def for_patient(patient_id: uuid.UUID) -> list[dict[str, Any]]:
    """The resources of this type in the patient's $everything, read through the
    same use cases (and so the same access rules and read audit) as the search."""
    return search.every_page(lambda limit, offset: _read(patient_id, limit, offset))


@bp.get("/DetectedIssue")
@require_auth
def search_detected_issues() -> Response:
    """`DetectedIssue?patient=<id>`: most severe first."""
    return search.by_patient(_read)
