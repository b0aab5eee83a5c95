"""The dose and route of a Dosage read back from the codes service/interop/fhir/dosage.py
writes (UCUM units, SNOMED CT routes, the dose as ordered), or from medtrack's own
unit and route names as text."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from service.domain.prescriptions import DOSE_UNITS, ROUTES, Dose
from service.interop.fhir import dosage
from service.interop.fhir.elements import Problems, codings, decimal, fail, is_object, text

UCUM = dosage.UCUM
SNOMED = dosage.SNOMED
# The codes service/interop/fhir/dosage.py writes, read back: UCUM unit codes and
# SNOMED CT route codes, so that what medtrack serves it also takes.
_UNIT_OF_UCUM = {
    str(q["code"]): unit
    for unit in DOSE_UNITS
    if "code" in (q := dosage.quantity(Decimal(1), unit))
}
_ROUTE_OF_SNOMED = {
    str(c["code"]): name for name in ROUTES for c in dosage.route(name).get("coding", [])
}
# The dose-rate type medtrack writes and takes: the dose as ordered.
_ORDERED = ("http://terminology.hl7.org/CodeSystem/dose-rate-type", "ordered")


def unit_of(q: Mapping[str, Any], p: Problems, path: str) -> str:
    """medtrack's unit for a Quantity: its UCUM code, else its unit as written."""
    system = text(q.get("system"), p, f"{path}.system")
    code = text(q.get("code"), p, f"{path}.code")
    unit = text(q.get("unit"), p, f"{path}.unit")
    if code is not None and system == UCUM:
        found = _UNIT_OF_UCUM.get(str(code))
        if found is None:
            fail(p, f"{path}.code", f"medtrack doses in {', '.join(DOSE_UNITS)}; got {code!r}.")
        return found
    if code is not None and system is not None:
        fail(p, f"{path}.system", f"Give the unit in UCUM ({UCUM}) or as medtrack's unit text.")
    written = str(unit if unit is not None else code or "").strip()
    for known in DOSE_UNITS:
        if written.casefold() in (known.casefold(), f"{known}s".casefold()):
            return known
    fail(p, f"{path}.unit", f"medtrack doses in {', '.join(DOSE_UNITS)}; got {written!r}.")


def dose(value: Any, p: Problems, at: str) -> Dose:
    if not isinstance(value, list) or len(value) != 1 or not is_object(value[0]):
        fail(p, at, "Required: one doseAndRate with a doseQuantity.")
    entry = value[0]
    if set(entry) - {"type", "doseQuantity"} or not is_object(entry.get("doseQuantity")):
        fail(p, f"{at}[0]", "medtrack holds a doseQuantity only (no range or rate).")
    kind = entry.get("type")
    if kind is not None:
        if not is_object(kind) or set(kind) - {"coding", "text"}:
            fail(p, f"{at}[0].type", "A CodeableConcept: coding and text.")
        given = codings(kind.get("coding"), p, f"{at}[0].type.coding")
        if [(c.get("system"), c.get("code")) for c in given] != [_ORDERED]:
            fail(p, f"{at}[0].type", "Only the dose as ordered (dose-rate-type ordered).")
    q = entry["doseQuantity"]
    path = f"{at}[0].doseQuantity"
    if set(q) - {"value", "unit", "system", "code"}:
        fail(p, path, "A dose is a value and a unit (no comparator).")
    return Dose(amount=decimal(q.get("value"), p, f"{path}.value"), unit=unit_of(q, p, path))


def route(value: Any, p: Problems, at: str) -> str:
    """The route its SNOMED CT codes (as service/interop/fhir/dosage.py writes them),
    its text and its codings' displays name; those that name one must agree."""
    if not is_object(value) or set(value) - {"coding", "text"}:
        fail(p, at, f"Required: the route, coded in SNOMED CT or as text ({', '.join(ROUTES)}).")
    named: dict[str, str] = {}
    for i, coding in enumerate(codings(value.get("coding"), p, f"{at}.coding")):
        if coding.get("system") == SNOMED:
            coded = _ROUTE_OF_SNOMED.get(str(coding.get("code")))
            if coded is None:
                fail(p, f"{at}.coding[{i}].code", "A SNOMED CT route medtrack does not know.")
            named.setdefault(coded, f"coding[{i}]")
        elif _route_named(coding.get("display")):
            named.setdefault(_route_named(coding.get("display")), f"coding[{i}].display")
    said = _route_named(text(value.get("text"), p, f"{at}.text"))
    if said:
        named.setdefault(said, "text")
    if len(named) > 1:
        fail(p, at, f"The route's codings and text disagree: {', '.join(sorted(named))}.")
    if not named:
        fail(p, at, f"A route medtrack does not know; use one of: {', '.join(ROUTES)}.")
    return next(iter(named))


def _route_named(name: str | None) -> str:
    """The medtrack route a text names, or ""."""
    folded = (name or "").strip().casefold()
    return folded if folded in ROUTES else ""
