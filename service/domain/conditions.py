"""The patient's coded conditions, which the checks read beside allergies and pregnancy.

The list covers the precautions the labels of the drugs medtrack tapers name
(docs/clinical.md, "Conditions"): the care team records them, and drug-condition
rules and dose limits are keyed by these codes.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

from service.domain.errors import Problems


class ConditionCode(enum.StrEnum):
    PREGNANCY = "pregnancy"
    BREASTFEEDING = "breastfeeding"
    HEPATIC_IMPAIRMENT = "hepatic-impairment"
    RENAL_IMPAIRMENT = "renal-impairment"
    SEIZURE_DISORDER = "seizure-disorder"
    SUBSTANCE_USE_DISORDER = "substance-use-disorder"
    ALCOHOL_USE = "alcohol-use"
    HISTORY_OF_FALLS = "history-of-falls"
    LONG_QT = "long-qt"
    HEART_FAILURE = "heart-failure"
    DEMENTIA = "dementia"
    DELIRIUM = "delirium"
    PARKINSON_DISEASE = "parkinson-disease"
    GI_BLEEDING_HISTORY = "gi-bleeding-history"


CHILD_PUGH_CLASSES = ("A", "B", "C")
# eGFR in mL/min/1.73 m2; above this is not a plausible measurement.
MAX_EGFR = 200


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One coded condition. Hepatic impairment carries its Child-Pugh class and renal
    impairment its eGFR, because dose limits and contraindications depend on them."""

    code: ConditionCode
    child_pugh: str | None = None
    egfr: Decimal | None = None


def validate_condition(condition: Condition, *, prefix: str, problems: Problems) -> None:
    """Problems with one condition, each field named after `prefix` (for a list entry)."""
    hepatic = condition.code is ConditionCode.HEPATIC_IMPAIRMENT
    renal = condition.code is ConditionCode.RENAL_IMPAIRMENT
    if hepatic and condition.child_pugh not in CHILD_PUGH_CLASSES:
        problems.add(
            f"{prefix}child_pugh",
            f"Hepatic impairment needs its Child-Pugh class: {', '.join(CHILD_PUGH_CLASSES)}.",
        )
    if not hepatic and condition.child_pugh is not None:
        problems.add(f"{prefix}child_pugh", "Only for hepatic impairment.")
    if renal and condition.egfr is None:
        problems.add(f"{prefix}egfr", "Renal impairment needs the eGFR (mL/min/1.73 m2).")
    if condition.egfr is not None and not (0 <= condition.egfr <= MAX_EGFR):
        problems.add(f"{prefix}egfr", f"Must be between 0 and {MAX_EGFR}.")
    if not renal and condition.egfr is not None:
        problems.add(f"{prefix}egfr", "Only for renal impairment.")


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years of age on `day` (a birthday on 29 February counts from 1 March)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def within(facts: Condition, *, child_pugh: frozenset[str], egfr_below: Decimal | None) -> bool:
    """Whether a rule or limit for these Child-Pugh classes (all, when none) and below
    this eGFR (any, when none) applies to the condition as recorded."""
    if child_pugh and facts.child_pugh not in child_pugh:
        return False
    return egfr_below is None or (facts.egfr is not None and facts.egfr < egfr_below)
