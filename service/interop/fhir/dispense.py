"""A prescription's supply as the MedicationRequest's `dispenseRequest` (FHIR R4
MedicationRequest.dispenseRequest; docs/interop.md, "Dispense request").

Under a taper plan under way: `validityPeriod` the plan's first to last day (a paused
plan's without an end, nor a duration: its later dates move when it resumes),
`expectedSupplyDuration` its days, and `quantity` the total its dispensing table
gives over the plan. FHIR has one quantity per request: a plan that takes several
formulations (two strengths, tablets and a liquid) gives each one's total in the
extension `StructureDefinition/dispense-per-formulation` instead, and no `quantity`.
Otherwise: the latest dispense as `quantity`, and the days it lasts at the
prescription's daily use. Nothing is said that medtrack does not record: no
`numberOfRepeatsAllowed`, no `initialFill`.
"""

from __future__ import annotations

from typing import Any

from service.interop.fhir import extensions
from service.interop.fhir.dosage import UCUM, number
from service.usecases.supply_fhir import Amount, DispenseFacts

PER_FORMULATION = extensions.structure("dispense-per-formulation")

# Supply's units as UCUM: a tablet (or capsule: supply counts both as tablets) is
# the annotation {tbl}, which UCUM reads as the unit 1; a liquid is counted in mL.
_UCUM_CODES = {"tablet": "{tbl}", "mL": "mL"}


def supply_quantity(amount: Amount) -> dict[str, Any]:
    """A SimpleQuantity of tablets or mL, UCUM-coded."""
    out: dict[str, Any] = {"value": number(amount.quantity), "unit": amount.unit}
    code = _UCUM_CODES.get(amount.unit)
    if code is not None:
        out.update(system=UCUM, code=code)
    return out


def days(count: int) -> dict[str, Any]:
    """A Duration of whole days."""
    return {"value": count, "unit": "days", "system": UCUM, "code": "d"}


def _per_formulation(amount: Amount) -> dict[str, Any]:
    return {
        "url": PER_FORMULATION,
        "extension": [
            {"url": "formulation", "valueString": amount.formulation},
            {"url": "quantity", "valueQuantity": supply_quantity(amount)},
        ],
    }


def dispense_request(facts: DispenseFacts) -> dict[str, Any]:
    """The dispenseRequest the facts give (they always give at least one element)."""
    out: dict[str, Any] = {}
    if len(facts.amounts) > 1:
        out["extension"] = [_per_formulation(a) for a in facts.amounts]
    if facts.validity is not None:
        start, end = facts.validity
        period = {"start": start.isoformat()}
        if end is not None:
            period["end"] = end.isoformat()
        out["validityPeriod"] = period
    if len(facts.amounts) == 1:
        out["quantity"] = supply_quantity(facts.amounts[0])
    if facts.days is not None:
        out["expectedSupplyDuration"] = days(facts.days)
    return out
