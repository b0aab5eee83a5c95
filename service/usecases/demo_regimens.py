"""What the demo patients take (service.usecases.demo): their prescriptions, and the
diazepam taper drafted for Alex, in the shapes the use cases take them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from service.domain.prescriptions import Dose, PrescriptionTerms, Schedule


def sams_regimen(start: dt.date) -> list[PrescriptionTerms]:
    """Atorvastatin 20 mg every evening."""
    return [
        PrescriptionTerms(
            drug="atorvastatin",
            dose=Dose(amount=Decimal(20), unit="mg"),
            route="oral",
            schedule=Schedule(times=(dt.time(21, 0),)),
            start_date=start,
            instructions="Take in the evening.",
        )
    ]


def alexs_regimen(start: dt.date) -> list[PrescriptionTerms]:
    """Escitalopram 10 mg every morning; diazepam 5 mg twice a day."""
    return [
        PrescriptionTerms(
            drug="escitalopram",
            dose=Dose(amount=Decimal(10), unit="mg"),
            route="oral",
            schedule=Schedule(times=(dt.time(8, 0),)),
            start_date=start,
            instructions="Take in the morning.",
        ),
        PrescriptionTerms(
            drug="diazepam",
            dose=Dose(amount=Decimal(5), unit="mg"),
            route="oral",
            schedule=Schedule(times=(dt.time(8, 0), dt.time(20, 0))),
            start_date=start,
            instructions="Do not stop suddenly; your clinician will plan any reduction.",
        ),
    ]


def alexs_taper(start: dt.date) -> dict[str, Any]:
    """Diazepam 10 mg a day down by a quarter of the dose every two weeks (ASAM 2025:
    at most 25% every 2 weeks), as the API's taper schema loads such a request."""
    return {
        "drug": None,
        "start_dose_mg": Decimal(10),
        "target_dose_mg": Decimal(0),
        "algorithm": {"kind": "percent", "percent": Decimal(25)},
        "max_cut_pct": Decimal(25),
        "floor_dose_mg": None,
        "interval_days": 14,
        "slow_below_mg": None,
        "slow_interval_days": None,
        "start_date": start,
        "larger_dose_time": None,
        "symptom_threshold": None,
    }
