"""The clinician's worklist: what needs them now across their care-team patients,
most urgent first and, at one urgency, nearest now first; and marking an item done.

Items (service/usecases/worklist_items.py): new contraindicated or major findings of
the record's screening that no one has acknowledged; doses of withdrawal-risk drugs
missed or skipped in the last week; symptom reports of the last two weeks with a red
flag or a proposed hold; taper plans drafted and waiting for approval; taper steps
that start in the next week; and the clinician's own enrolments not accepted 72
hours after they were made. Each has a stable key (`dose:<id>`, `step:<plan>:<n>`...).

An item marked done is done for the whole care team: the mark (who, when, an
optional note) is kept, append-only, with its audit entry, and the item is left off
every member's worklist from then on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

from service.db.tables import WorklistMark
from service.db.uow import UnitOfWork
from service.domain.accounts import Principal, Role
from service.domain.audit import AuditAction
from service.domain.doses import OPEN, DoseStatus
from service.domain.interactions import KnowledgeBase
from service.domain.severity import Severity
from service.domain.taper.status import RUNNING, PlanStatus
from service.usecases.access import load_writable_patient
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, NotFound, ValidationFailed
from service.usecases.reminders import DEFAULT_POLICY, ReminderPolicy
from service.usecases.worklist_items import (
    ItemKind,
    WorkItem,
    activation_item,
    dose_item,
    draft_item,
    finding_item,
    step_items,
    symptom_item,
)

__all__ = [
    "ItemKind",
    "MarkView",
    "WorkItem",
    "Worklist",
    "mark_done",
    "ordered",
    "parse_key",
    "worklist",
]

SERIOUS = (Severity.CONTRAINDICATED, Severity.MAJOR)
DOSES_SINCE = dt.timedelta(days=7)
REPORTS_SINCE = dt.timedelta(days=14)
STEPS_AHEAD = dt.timedelta(days=7)
NOT_ACTIVATED_AFTER = dt.timedelta(hours=72)
# Items read of each kind, and shown in all: a bound on every query and on the
# reads audited, whatever the number of patients.
PER_KIND = 200
SHOWN = 50
NOTE_MAX = 500
ONLY_CLINICIANS = "Only clinicians have a worklist; administrators manage staff and care teams."


@dataclass(frozen=True, kw_only=True)
class Worklist:
    items: list[WorkItem]
    # Items found of each kind (at most PER_KIND), shown or not.
    counts: dict[ItemKind, int]
    total: int


@dataclass(frozen=True, kw_only=True)
class MarkView:
    key: str
    kind: ItemKind
    patient_id: uuid.UUID | None
    marked_by: uuid.UUID
    marked_at: dt.datetime
    note: str | None


@dataclass(frozen=True)
class ItemRef:
    kind: ItemKind
    subject_id: uuid.UUID
    step: int | None = None

    @property
    def key(self) -> str:
        tail = f":{self.step}" if self.step is not None else ""
        return f"{self.kind}:{self.subject_id}{tail}"


def parse_key(key: str) -> ItemRef | None:
    """The item a key names; None for anything that is not a key."""
    kind, _, rest = key.strip().partition(":")
    subject, _, step = rest.partition(":")
    if bool(step) != (kind == ItemKind.STEP):
        return None
    try:
        ref = ItemRef(ItemKind(kind), uuid.UUID(subject), int(step) if step else None)
    except ValueError:
        return None
    return ref if (ref.step is None or ref.step >= 0) else None


def _clinician(caller: Caller) -> Principal:
    who = caller.require()
    if who.role is not Role.CLINICIAN:
        raise Forbidden(ONLY_CLINICIANS)
    return who


def _steps(uow: UnitOfWork, kb: KnowledgeBase, me: uuid.UUID, now: dt.datetime) -> list[WorkItem]:
    until = now + STEPS_AHEAD
    rows = uow.worklist.plans(me, statuses=RUNNING, next_step_by=until, limit=PER_KIND)
    found = [i for r in rows for i in step_items(r, kb, after=now, until=until)][:PER_KIND]
    done = uow.worklist.marked([i.key for i in found])
    return [i for i in found if i.key not in done]


def _gather(
    uow: UnitOfWork, kb: KnowledgeBase, policy: ReminderPolicy, me: uuid.UUID, now: dt.datetime
) -> list[WorkItem]:
    w = uow.worklist
    serious = [s.value for s in SERIOUS]
    items = [finding_item(r) for r in w.findings(me, severities=serious, limit=PER_KIND)]
    # An open dose past the missed mark counts as missed, as the chart shows it
    # (dose_views.shown_status), whether or not the follow-up job has recorded it.
    doses = w.doses(
        me,
        since=now - DOSES_SINCE,
        logged=(DoseStatus.MISSED, DoseStatus.SKIPPED),
        open_=OPEN,
        open_before=now - policy.missed_after,
        limit=PER_KIND,
    )
    items += [dose_item(r) for r in doses]
    reports = w.symptom_reports(me, since=now - REPORTS_SINCE, limit=PER_KIND)
    items += [i for r in reports if (i := symptom_item(r, kb)) is not None]
    drafts = w.plans(me, statuses=(PlanStatus.DRAFT,), not_done=ItemKind.DRAFT, limit=PER_KIND)
    items += [draft_item(r, kb, now) for r in drafts]
    items += _steps(uow, kb, me, now)
    waiting = w.enrolments_waiting(me, made_before=now - NOT_ACTIVATED_AFTER, limit=PER_KIND)
    items += [activation_item(r, now, after=NOT_ACTIVATED_AFTER) for r in waiting]
    return items


def ordered(items: list[WorkItem], now: dt.datetime) -> list[WorkItem]:
    """Most urgent first; at one urgency nearest now first: the newest of what has
    happened, the soonest of what is coming (a taper step)."""
    return sorted(items, key=lambda i: (i.rank, abs(i.when - now), i.key))


def worklist(
    *,
    uow: UnitOfWork,
    caller: Caller,
    clock: Clock,
    kb: KnowledgeBase,
    policy: ReminderPolicy = DEFAULT_POLICY,
    limit: int = SHOWN,
) -> Worklist:
    """The calling clinician's items, most urgent first, then nearest now (the newest
    of past items, the soonest of coming steps). Each patient shown is a read of
    their record, audited."""
    me = _clinician(caller).user_id
    now = clock()
    with uow:
        found = ordered(_gather(uow, kb, policy, me, now), now)
        shown = found[:limit]
        for patient_id in dict.fromkeys(i.patient_id for i in shown if i.patient_id):
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.READ,
                subtype="worklist.read",
                entity_type="Patient",
                entity_id=patient_id,
                patient_id=patient_id,
            )
        uow.commit()
    counts = Counter(i.kind for i in found)
    return Worklist(items=shown, counts={k: counts[k] for k in ItemKind}, total=len(found))


def _subject_patient(uow: UnitOfWork, who: Principal, ref: ItemRef) -> uuid.UUID | None:
    """The patient whose record the item is about; NotFound when there is no such
    item for this clinician. For an enrolment, only its own clinician's, filed
    under the record the enrolment made or invited (none, for an invitation to an
    account without one)."""
    missing = NotFound(f"No worklist item {ref.key}.")
    if ref.kind is ItemKind.ACTIVATION:
        enrolment = uow.worklist.enrolment(ref.subject_id)
        if enrolment is None or enrolment.clinician_id != who.user_id:
            raise missing
        if enrolment.patient_id is not None or enrolment.invited_user_id is None:
            return enrolment.patient_id
        own = uow.patients.by_user(enrolment.invited_user_id)
        return own.id if own else None
    found: uuid.UUID | None = None
    if ref.kind is ItemKind.FINDING:
        found = uow.worklist.finding_patient(ref.subject_id)
    elif ref.kind is ItemKind.DOSE:
        event = uow.doses.event(ref.subject_id)
        found = event.patient_id if event else None
    elif ref.kind is ItemKind.SYMPTOM:
        found = uow.worklist.report_patient(ref.subject_id)
    else:
        plan = uow.tapers.get(ref.subject_id)
        found = plan.patient_id if plan else None
        if plan is not None and ref.step is not None:
            steps = uow.tapers.versions(plan.id)[-1].plan["steps"]
            found = found if ref.step < len(steps) else None
    if found is None:
        raise missing
    return found


def _checked_note(note: str | None) -> str | None:
    text = (note or "").strip() or None
    if text is not None and len(text) > NOTE_MAX:
        raise ValidationFailed(
            "The note is too long.", errors={"note": [f"At most {NOTE_MAX} characters."]}
        )
    return text


def _view(mark: WorklistMark) -> MarkView:
    return MarkView(
        key=mark.item_key,
        kind=ItemKind(mark.kind),
        patient_id=mark.patient_id,
        marked_by=mark.marked_by,
        marked_at=mark.marked_at,
        note=mark.note,
    )


def mark_done(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, key: str, note: str | None = None
) -> MarkView:
    """Mark an item done for the care team (audited). An item already marked is
    left as it was; a key that names nothing the caller may act on is NotFound."""
    who = _clinician(caller)
    ref = parse_key(key)
    if ref is None:
        raise NotFound(f"No worklist item {key[:120]!r}.")
    text = _checked_note(note)
    now = clock()
    with uow:
        patient_id = _subject_patient(uow, who, ref)
        if patient_id is not None and ref.kind is not ItemKind.ACTIVATION:
            try:
                load_writable_patient(uow, caller=caller, patient_id=patient_id)
            except NotFound:
                raise NotFound(f"No worklist item {ref.key}.", patient_id=patient_id) from None
        existing = uow.worklist.mark_of(ref.key)
        if existing is not None:
            return _view(existing)
        mark = WorklistMark(
            item_key=ref.key,
            kind=ref.kind.value,
            subject_id=ref.subject_id,
            patient_id=patient_id,
            marked_by=who.user_id,
            marked_at=now,
            note=text,
        )
        uow.worklist.add_mark(mark)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.CREATE,
            subtype="worklist.done",
            entity_type="WorklistMark",
            entity_id=mark.id,
            patient_id=patient_id,
            after={"item": ref.key, "kind": ref.kind.value, "note": text},
        )
        uow.commit()
        return _view(mark)
