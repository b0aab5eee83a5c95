"""OpenAPI links between operations: which response feeds which next request.

They document the API's workflows (create a patient, prescribe, plan a taper,
take today's doses) and let stateful clients and testers (schemathesis) chain
real ids instead of guessing them.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin

PATIENT = "/v1/patients/{patient_id}"
PRESCRIPTIONS = f"{PATIENT}/prescriptions"
PRESCRIPTION = f"{PRESCRIPTIONS}/{{rx_id}}"
PLAN = "/v1/taper-plans/{plan_id}"
DOSE = "/v1/doses/{dose_id}"

SAME_PATIENT = {"patient_id": "$request.path.patient_id"}
NEW_PRESCRIPTION = {**SAME_PATIENT, "rx_id": "$response.body#/id"}
NEW_PLAN = {"plan_id": "$response.body#/id"}
FIRST_DOSE = {"dose_id": "$response.body#/doses/0/id"}
FIRST_PATIENT = {"patient_id": "$response.body#/0/id"}
FIRST_PRESCRIPTION = {**SAME_PATIENT, "rx_id": "$response.body#/0/id"}

# (path, method, status) -> {link name: (target path, target method, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/v1/patients", "get", "200"): {
        "GetFirstPatient": (PATIENT, "get", FIRST_PATIENT),
        "ListFirstPatientsPrescriptions": (PRESCRIPTIONS, "get", FIRST_PATIENT),
        "PrescribeForFirstPatient": (PRESCRIPTIONS, "post", FIRST_PATIENT),
        "ListFirstPatientsDoses": (f"{PATIENT}/doses", "get", FIRST_PATIENT),
        "GetFirstPatientsAdherence": (f"{PATIENT}/adherence", "get", FIRST_PATIENT),
    },
    (PRESCRIPTIONS, "post", "201"): {
        "GetPrescription": (PRESCRIPTION, "get", NEW_PRESCRIPTION),
        "RevisePrescription": (PRESCRIPTION, "patch", NEW_PRESCRIPTION),
        "ListVersions": (f"{PRESCRIPTION}/versions", "get", NEW_PRESCRIPTION),
        "PausePrescription": (f"{PRESCRIPTION}/pause", "post", NEW_PRESCRIPTION),
        "ResumePrescription": (f"{PRESCRIPTION}/resume", "post", NEW_PRESCRIPTION),
        "DiscontinuePrescription": (f"{PRESCRIPTION}/discontinue", "post", NEW_PRESCRIPTION),
        "LogAsNeededDose": (f"{PRESCRIPTION}/prn-doses", "post", NEW_PRESCRIPTION),
        "DraftTaperPlan": (f"{PRESCRIPTION}/taper-plans", "post", NEW_PRESCRIPTION),
    },
    (PRESCRIPTIONS, "get", "200"): {
        "GetFirstPrescription": (PRESCRIPTION, "get", FIRST_PRESCRIPTION),
        "ReviseFirstPrescription": (PRESCRIPTION, "patch", FIRST_PRESCRIPTION),
        "ListFirstPrescriptionsVersions": (f"{PRESCRIPTION}/versions", "get", FIRST_PRESCRIPTION),
        "PauseFirstPrescription": (f"{PRESCRIPTION}/pause", "post", FIRST_PRESCRIPTION),
        "ResumeFirstPrescription": (f"{PRESCRIPTION}/resume", "post", FIRST_PRESCRIPTION),
        "LogAsNeededDoseOfFirst": (f"{PRESCRIPTION}/prn-doses", "post", FIRST_PRESCRIPTION),
        "DraftTaperPlanForFirst": (f"{PRESCRIPTION}/taper-plans", "post", FIRST_PRESCRIPTION),
    },
    (f"{PRESCRIPTION}/taper-plans", "post", "201"): {
        "GetTaperPlan": (PLAN, "get", NEW_PLAN),
        "GetTaperChart": (f"{PLAN}/chart.svg", "get", NEW_PLAN),
        "ApproveTaperPlan": (f"{PLAN}/approve", "post", NEW_PLAN),
        "ExtendTaperStep": (f"{PLAN}/extend", "post", NEW_PLAN),
        "StepBack": (f"{PLAN}/step-back", "post", NEW_PLAN),
        "PauseTaperPlan": (f"{PLAN}/pause", "post", NEW_PLAN),
        "ResumeTaperPlan": (f"{PLAN}/resume", "post", NEW_PLAN),
        "CancelTaperPlan": (f"{PLAN}/cancel", "post", NEW_PLAN),
        "ListSymptomReports": (f"{PLAN}/symptom-reports", "get", NEW_PLAN),
        "ReportSymptoms": (f"{PLAN}/symptom-reports", "post", NEW_PLAN),
    },
    ("/v1/me/doses/today", "get", "200"): {
        "TakeFirstDose": (f"{DOSE}/taken", "post", FIRST_DOSE),
        "SkipFirstDose": (f"{DOSE}/skipped", "post", FIRST_DOSE),
        "SnoozeFirstDose": (f"{DOSE}/snooze", "post", FIRST_DOSE),
    },
    ("/v1/me/devices", "post", "201"): {
        "RemoveDevice": (
            "/v1/me/devices/{device_id}",
            "delete",
            {"device_id": "$response.body#/id"},
        ),
    },
    ("/v1/drugs", "get", "200"): {
        "GetFirstDrug": ("/v1/drugs/{drug_id}", "get", {"drug_id": "$response.body#/0/id"}),
    },
}


def operation_ref(path: str, method: str) -> str:
    """A JSON pointer to an operation in this document (RFC 6901 escaping)."""
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


class LinksPlugin(BasePlugin):
    """Adds `links` to the responses listed in LINKS as their operations are added."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        if path is None or operations is None:
            return
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                links = LINKS.get((path, method, str(status)))
                if links is None or not isinstance(response, dict):
                    continue
                response["links"] = {
                    name: {"operationRef": operation_ref(p, m), "parameters": params}
                    for name, (p, m, params) in links.items()
                }
