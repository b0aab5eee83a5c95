"""A MedicationRequest from an EHR read as the command that /v1 prescribing takes
(the terms, and the prescriber's answers to the findings), by hand and strictly:
every element is either held by medtrack or refused with a 422 naming it, so that
nothing an EHR says about an order is silently dropped. Dosage is read by
service/interop/fhir/order_dosage.py."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.catalog import Catalog
from service.domain.prescriptions import (
    MAX_ACKNOWLEDGED,
    MAX_DRUG_LENGTH,
    MAX_FINDING_ID_LENGTH,
    MAX_TEXT_LENGTH,
    PrescriptionTerms,
)
from service.interop.coding import resolve_concept
from service.interop.fhir import elements, extensions
from service.interop.fhir.elements import Problems, Refused, Stop, codings, is_object
from service.interop.fhir.order_dosage import dosage_terms
from service.usecases.screening import Screening

RESOURCE_TYPE = "MedicationRequest"
ACKNOWLEDGEMENT = extensions.structure("finding-acknowledgement")
OVERRIDE = extensions.structure("override")
# The key of a finding, as the 409 names it and the acknowledgement gives it back.
FINDING_KEYS = extensions.code_system("finding")
# The finding's own severity on an issue (contraindicated, major), as DetectedIssue has it.
FINDING_SEVERITY = extensions.structure("finding-severity")

# Elements read into the terms, and those that carry nothing medtrack holds but
# that a server may accept: `id` (a create assigns its own), `meta`, `text` (the
# narrative, generated from the other elements), `identifier` (the EHR's order
# number), `requester` (the prescriber is the caller whose token made the request).
_READ = frozenset(
    {
        "resourceType",
        "status",
        "intent",
        "subject",
        "medicationCodeableConcept",
        "authoredOn",
        "dosageInstruction",
        "extension",
    }
)
_ACCEPTED = frozenset({"id", "meta", "text", "identifier", "requester"})
_STATUSES = ("active",)
_INTENTS = ("order", "original-order")
_REFERENCE = re.compile(r"^Patient/([0-9a-fA-F-]{36})$")


@dataclass(frozen=True, kw_only=True)
class Order:
    """What `create_prescription` takes, read off one MedicationRequest."""

    patient_id: uuid.UUID
    terms: PrescriptionTerms
    screening: Screening


def read_order(body: Any, catalog: Catalog, *, at: str = RESOURCE_TYPE) -> Order:
    """The order a MedicationRequest makes, or Refused naming each element that is
    missing, malformed or beyond what medtrack can hold. `at` is the resource's own
    path (`Bundle.entry[1].resource` inside a transaction)."""
    if not is_object(body):
        message = "Send a MedicationRequest resource as a JSON object."
        raise Refused(400, message, [(at, message)])
    if body.get("resourceType") != RESOURCE_TYPE:
        raise Refused(
            400,
            f"Expected resourceType {RESOURCE_TYPE!r}, got {body.get('resourceType')!r}.",
            [(f"{at}.resourceType", f"Must be {RESOURCE_TYPE}.")],
        )
    problems = Problems(at)
    for path in _empty(body):
        problems.add(path, "FHIR JSON has no null or empty values; leave the element out.")
    problems.raise_if_any()
    for name in sorted(set(body) - _READ - _ACCEPTED):
        problems.add(name, _unsupported(name))
    _check_code(body, "status", _STATUSES, problems)
    _check_code(body, "intent", _INTENTS, problems)
    patient_id = _subject(body.get("subject"), problems)
    drug = _drug(body.get("medicationCodeableConcept"), catalog, problems)
    authored = _authored_on(body.get("authoredOn"), problems)
    terms = dosage_terms(body.get("dosageInstruction"), problems, authored_on=authored)
    screening = _screening(body.get("extension"), problems)
    problems.raise_if_any()
    assert patient_id is not None
    assert drug is not None
    assert terms is not None
    return Order(patient_id=patient_id, terms=terms(drug), screening=screening)


def _empty(value: Any, here: str = "") -> list[str]:
    """The paths of the values FHIR JSON forbids: null, and an empty object, list or
    string (an element has a value or children, or is left out)."""
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = [
            (f"{here}.{key}" if here else str(key), child) for key, child in value.items()
        ]
    elif isinstance(value, list):
        items = [(f"{here}[{i}]", child) for i, child in enumerate(value)]
    else:
        blank = value is None or (isinstance(value, str) and not value.strip())
        return [here] if blank else []
    if not items:
        return [here]
    return [path for path, child in items for path in _empty(child, path)]


def _unsupported(name: str) -> str:
    if name == "modifierExtension":
        return "medtrack does not support modifier extensions; the order cannot be read safely."
    if name.startswith("medication"):
        return "Give the medication as medicationCodeableConcept."
    return "medtrack cannot hold this element; send the order without it."


def _check_code(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], p: Problems) -> None:
    value = body.get(name)
    if value is None:
        p.add(name, f"Required: {' or '.join(allowed)}.")
    elif value not in allowed:
        p.add(name, f"medtrack creates {' or '.join(allowed)} orders only, got {value!r}.")


def _subject(value: Any, p: Problems) -> uuid.UUID | None:
    """The patient, as a reference to medtrack's Patient/<id>."""
    if value is None:
        p.add("subject", "Required: a reference to the patient, Patient/<id>.")
        return None
    if not is_object(value) or set(value) - {"reference", "display"}:
        p.add("subject", 'Give the patient as {"reference": "Patient/<id>"}.')
        return None
    match = _REFERENCE.match(str(value.get("reference", "")))
    if match is not None:
        try:
            return uuid.UUID(match.group(1))
        except ValueError:
            pass
    p.add("subject.reference", "Must be Patient/<id>, the id of a patient on medtrack.")
    return None


def _drug(concept: Any, catalog: Catalog, p: Problems) -> str | None:
    """The drug as the use case resolves it: the concept's text where that names the
    same ingredients as the concept's codes, else the catalog's own name for what the
    codes name; a text that names other ingredients than the codes is refused."""
    here = "medicationCodeableConcept"
    if concept is None:
        p.add(here, "Required: the medication, coded (RxNorm, ATC) or as text.")
        return None
    if not is_object(concept) or set(concept) - {"coding", "text"}:
        p.add(here, "Give a CodeableConcept: coding and text.")
        return None
    try:
        codings(concept.get("coding"), p, f"{here}.coding")
        text = elements.text(concept.get("text"), p, f"{here}.text")
    except Stop:
        return None
    if text is not None and len(text) > MAX_DRUG_LENGTH:
        p.add(f"{here}.text", f"At most {MAX_DRUG_LENGTH} characters.")
        return None
    found = resolve_concept(catalog, concept)
    if found.conflict:
        p.add(
            here,
            "Its codes and names name different drugs: "
            + "; ".join(found.unknown)
            + ". Send them in agreement.",
        )
        return None
    if found.resolved is None:
        names = list(found.unknown) or ["(no code or text)"]
        p.unresolved_codes(here, names)
        return None
    if not (text and text.strip()) or catalog.resolve(text) is None:
        return found.resolved.name
    return str(text).strip()


def _authored_on(value: Any, p: Problems) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    p.add("authoredOn", "Must be a date or dateTime (YYYY-MM-DD...).")
    return None


def _screening(value: Any, p: Problems) -> Screening:
    """The prescriber's answers to findings, as /v1's `acknowledge` and `override`:
    one finding-acknowledgement extension per major finding acknowledged (its key),
    or one override extension with the reason (every contraindicated and major one)."""
    if value is None:
        return Screening()
    if not isinstance(value, list):
        p.add("extension", "Must be a list of extensions.")
        return Screening()
    acknowledged: list[str] = []
    reasons: list[str] = []
    for i, ext in enumerate(value):
        here = f"extension[{i}]"
        url = ext.get("url") if is_object(ext) else None
        if url not in (ACKNOWLEDGEMENT, OVERRIDE):
            p.add(here, f"medtrack reads only the extensions {ACKNOWLEDGEMENT} and {OVERRIDE}.")
            continue
        assert is_object(ext)
        if set(ext) != {"url", "valueString"} or not isinstance(ext["valueString"], str):
            p.add(f"{here}.valueString", "Required, and the only value: text.")
            continue
        text = ext["valueString"].strip()
        if not text:
            p.add(f"{here}.valueString", "Must not be blank.")
        elif url == OVERRIDE:
            reasons.append(text)
        elif len(text) > MAX_FINDING_ID_LENGTH:
            most = f"A finding key has at most {MAX_FINDING_ID_LENGTH} characters."
            p.add(f"{here}.valueString", most)
        else:
            acknowledged.append(text)
    if len(reasons) > 1:
        p.add("extension", "Give at most one override extension.")
    if reasons and len(reasons[0]) > MAX_TEXT_LENGTH:
        p.add("extension", f"The override reason has at most {MAX_TEXT_LENGTH} characters.")
    if len(acknowledged) > MAX_ACKNOWLEDGED:
        p.add("extension", f"Acknowledge at most {MAX_ACKNOWLEDGED} findings.")
    return Screening(
        override_reason=reasons[0] if reasons else None, acknowledge=frozenset(acknowledged)
    )
