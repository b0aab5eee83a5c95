"""The formulations a prescription's supply may be recorded in, for a form to offer
(docs/clinical.md, "Supply and refills"): the same list record_supply chooses from,
so that a form never offers what the use case then refuses."""

from __future__ import annotations

import uuid

from service.db.uow import UnitOfWork
from service.domain.interactions import KnowledgeBase
from service.usecases.access import load_readable_patient
from service.usecases.context import Caller
from service.usecases.prescriptions.versions import load_prescription
from service.usecases.supply_subject import subject_of


def supply_choices(
    *,
    uow: UnitOfWork,
    caller: Caller,
    kb: KnowledgeBase,
    patient_id: uuid.UUID,
    rx_id: uuid.UUID,
) -> tuple[str, ...]:
    """The labels (`tablet 5 mg`, `oral-solution 1 mg/mL`) of the catalog's tablets,
    capsules and oral liquids of the drug, and of any other formulation its taper
    plan names. Not audited: it reads the catalog, nothing of the patient's record
    beyond what the chart that shows it has read and recorded."""
    with uow:
        ctx = load_readable_patient(uow, caller=caller, patient_id=patient_id)
        rx = load_prescription(uow, patient_id, rx_id)
        return tuple(f.label for f in subject_of(uow, kb, ctx.patient, rx).choices)
