"""A prescription as supply sees it: its terms, the formulations it may be supplied
in, its taper plan under way, and the patient's zone (docs/clinical.md, "Supply and
refills")."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from service.db.tables import Patient, Prescription
from service.db.tapers import PlanTerms
from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.domain.prescriptions import PrescriptionTerms, Status
from service.domain.supply.use import parse_label, plan_labels
from service.domain.taper.formulations import TaperFormulation, offered
from service.usecases.reminders import withdrawal_risk


@dataclass(frozen=True, kw_only=True)
class Subject:
    """A prescription as supply sees it: its terms, the formulations it may be
    supplied in, its taper plan under way, and the patient's zone."""

    patient: Patient
    rx: Prescription
    terms: PrescriptionTerms
    drug: str
    choices: tuple[TaperFormulation, ...]
    plan: PlanTerms | None
    zone: zoneinfo.ZoneInfo
    withdrawal_risk: bool
    # A paused prescription takes nothing until it resumes (never, without a date).
    paused: bool = False
    resume_on: dt.date | None = None

    def paused_on(self) -> dt.date | None:
        if self.plan is None or self.plan.paused_at is None:
            return None
        return self.plan.paused_at.astimezone(self.zone).date()


def subject_of(uow: UnitOfWork, kb: KnowledgeBase, patient: Patient, rx: Prescription) -> Subject:
    """What supply needs of `rx`: the catalog's tablets, capsules and oral liquids of
    its one ingredient, and any other formulation its taper plan names."""
    version = uow.prescriptions.version(rx.id, rx.current_version)
    terms = version.terms()
    ingredients = tuple(version.ingredients or ())
    drug = kb.catalog.drugs.get(ingredients[0]) if len(ingredients) == 1 else None
    choices = list(offered(drug.formulations)) if drug is not None else []
    plan = uow.tapers.plans_under_way([rx.id]).get(rx.id)
    if plan is not None:
        known = {f.label for f in choices}
        for label in plan_labels(plan.plan):
            parsed = parse_label(label)
            if label not in known and parsed is not None:
                choices.append(parsed)
    return Subject(
        patient=patient,
        rx=rx,
        terms=terms,
        drug=version.drug_name or terms.drug,
        choices=tuple(choices),
        plan=plan,
        zone=zoneinfo.ZoneInfo(patient.timezone),
        withdrawal_risk=withdrawal_risk(kb, ingredients),
        paused=rx.status == Status.PAUSED,
        resume_on=version.resume_on,
    )
