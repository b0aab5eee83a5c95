"""Reading a CDS Hooks call (order-select, order-sign): its context's draft orders,
the prefetched Patient and current MedicationRequests, each medication resolved to
the catalog through service.interop.coding. A malformed call is refused with the
field that is wrong; a medication that does not resolve is kept, to be reported.

A draft that stops a drug is a MedicationRequest with status `stopped` or
`cancelled` for it (how an EHR's discontinue order reaches a hook's draftOrders)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.domain.catalog import Catalog
from service.interop.coding import resolve_concept
from service.usecases.cds import HookCall, Medication
from service.usecases.errors import ValidationFailed

HOOKS = ("order-select", "order-sign")
STOPPING = frozenset({"stopped", "cancelled"})
# Current medications: what a prefetch of status=active holds; others are ignored.
NOT_CURRENT = frozenset({"stopped", "cancelled", "completed", "entered-in-error", "draft"})
MAX_ENTRIES = 500


class BadCall(ValidationFailed):
    """A call the service cannot read: 400, naming the field."""


def _bad(where: str, message: str) -> BadCall:
    return BadCall(f"The CDS Hooks request is malformed: {where}.", errors={where: [message]})


def _object(value: Any, where: str, *, required: bool = True) -> Mapping[str, Any] | None:
    if value is None and not required:
        return None
    if not isinstance(value, Mapping):
        raise _bad(where, "Must be a JSON object.")
    return value


def _string(value: Any, where: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise _bad(where, "Must be a non-empty string of at most 255 characters.")
    return value


def _resources(bundle: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    if bundle.get("resourceType") != "Bundle":
        raise _bad(f"{where}.resourceType", "Must be Bundle.")
    entries = bundle.get("entry", [])
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise _bad(f"{where}.entry", f"Must be a list of at most {MAX_ENTRIES} entries.")
    found = []
    for i, entry in enumerate(entries):
        resource = (_object(entry, f"{where}.entry[{i}]") or {}).get("resource")
        found.append(_object(resource, f"{where}.entry[{i}].resource") or {})
    return found


def _list(value: Any) -> list[Any]:
    """A list element as a list; anything else as none. A medication whose elements
    are malformed then resolves to nothing, and its card says it could not be checked."""
    return value if isinstance(value, list) else []


def _concept(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """The medication's concept: inline, a contained Medication's code, or the
    reference's display as text."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, Mapping):
        return concept
    reference = resource.get("medicationReference")
    if not isinstance(reference, Mapping):
        return {}
    ref = reference.get("reference")
    for contained in _list(resource.get("contained")):
        if (
            isinstance(contained, Mapping)
            and isinstance(ref, str)
            and ref == f"#{contained.get('id')}"
            and isinstance(contained.get("code"), Mapping)
        ):
            return dict(contained["code"])
    display = reference.get("display")
    return {"text": display} if isinstance(display, str) else {}


def _text(concept: Mapping[str, Any], fallback: str) -> str:
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return str(concept["text"])
    for coding in _list(concept.get("coding")):
        if isinstance(coding, Mapping) and isinstance(coding.get("display"), str):
            return str(coding["display"])
    return fallback


def medication(catalog: Catalog, resource: Mapping[str, Any]) -> Medication:
    """A MedicationRequest's medication as the check reads it."""
    ref = f"MedicationRequest/{resource['id']}" if isinstance(resource.get("id"), str) else None
    concept = _concept(resource)
    resolution = resolve_concept(catalog, concept)
    return Medication(
        text=_text(concept, ref or "a MedicationRequest without a medication"),
        resolved=resolution.resolved,
        unknown=resolution.unknown,
        ref=ref,
        stops=resource.get("status") in STOPPING,
    )


def _identifiers(patient: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if patient is None or patient.get("resourceType") != "Patient":
        return ()
    identifiers = patient.get("identifier") or []
    if not isinstance(identifiers, list):
        raise _bad("prefetch.patient.identifier", "Must be a list of Identifiers.")
    pairs = []
    for identifier in identifiers:
        if isinstance(identifier, Mapping):
            system, value = identifier.get("system"), identifier.get("value")
            if isinstance(system, str) and isinstance(value, str):
                pairs.append((system, value))
    return tuple(pairs)


def read_call(catalog: Catalog, body: Any, *, client: str, patient_system: str | None) -> HookCall:
    """The call, or BadCall naming what is wrong."""
    call = _object(body, "request") or {}
    hook = call.get("hook")
    if hook not in HOOKS:
        raise _bad("hook", f"This service answers {' and '.join(HOOKS)}.")
    instance = _string(call.get("hookInstance"), "hookInstance") or ""
    context = _object(call.get("context"), "context") or {}
    ehr_patient = _string(context.get("patientId"), "context.patientId")
    drafts = _resources(
        _object(context.get("draftOrders"), "context.draftOrders") or {}, "context.draftOrders"
    )
    prefetch = _object(call.get("prefetch"), "prefetch", required=False) or {}
    meds = _object(prefetch.get("medications"), "prefetch.medications", required=False)
    current = None
    if meds is not None:
        current = tuple(
            medication(catalog, r)
            for r in _resources(meds, "prefetch.medications")
            if r.get("resourceType") == "MedicationRequest" and r.get("status") not in NOT_CURRENT
        )
    return HookCall(
        client=client,
        patient_system=patient_system,
        hook=str(hook),
        hook_instance=instance,
        ehr_patient=ehr_patient,
        identifiers=_identifiers(
            _object(prefetch.get("patient"), "prefetch.patient", required=False)
        ),
        drafts=tuple(
            medication(catalog, r) for r in drafts if r.get("resourceType") == "MedicationRequest"
        ),
        prefetched=current,
    )
