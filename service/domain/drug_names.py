"""The ingredient names in an RxNorm clinical-drug name, as EHRs send them for a
medication's display or text.

RxNorm names a clinical drug "[quantity] [duration] ingredient strength / ingredient
strength dose form [Brand]": "Tramadol Hydrochloride 50 MG Oral Tablet",
"0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe", "24 HR venlafaxine 75 MG
Extended Release Oral Capsule", "Amoxicillin 120 MG/ML / clavulanate potassium
8.58 MG/ML Oral Suspension", "escitalopram 10 MG Oral Tablet [Lexapro]". The
ingredient names are what comes before each strength; salts stay on them, for the
catalog's name resolution to read as it reads any name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ClinicalDrugName", "clinical_drug_name"]

# RxNorm's strength units (upper case in RxNorm, any case from an EHR), alone or
# as a ratio: "MG", "MG/ML", "MCG/ACTUAT", "UNT/ML", "MG/HR", "MEQ/ML".
_UNIT = r"(?:mg|mcg|g|ml|l|unt|meq|mmol|mci|actuat|hr|bau|au|pnu|cells|sqcm|%)"
_STRENGTH = re.compile(
    rf"(?<![\w.])\d+(?:\.\d+)?\s*{_UNIT}(?:\s*/\s*(?:\d+(?:\.\d+)?\s*)?{_UNIT})*(?![\w])",
    re.IGNORECASE,
)
_LEADING_STRENGTHS = re.compile(rf"^(?:{_STRENGTH.pattern}\s+)+", re.IGNORECASE)
_BRAND = re.compile(r"\s*\[([^\[\]]+)\]\s*$")
_PART = re.compile(r"\s+/\s+")


@dataclass(frozen=True, kw_only=True)
class ClinicalDrugName:
    """The ingredient names of a clinical-drug name, in its order, and its brand."""

    ingredients: tuple[str, ...]
    brand: str | None = None


def clinical_drug_name(text: str) -> ClinicalDrugName | None:
    """The ingredient names and brand of an RxNorm clinical-drug name, or None when
    the text is not one (a part without a strength, or a part that is only one)."""
    brand_match = _BRAND.search(text)
    brand = brand_match.group(1).strip() if brand_match else None
    body = text[: brand_match.start()] if brand_match else text
    body = _LEADING_STRENGTHS.sub("", " ".join(body.split()))
    names: list[str] = []
    for part in _PART.split(body):
        strength = _STRENGTH.search(part)
        if strength is None:
            return None
        name = part[: strength.start()].strip()
        if not name:
            return None
        names.append(name)
    if not names:
        return None
    return ClinicalDrugName(ingredients=tuple(names), brand=brand or None)
