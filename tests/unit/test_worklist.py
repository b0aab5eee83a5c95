"""The worklist's rules without a database: what each kind of item says and how urgent
it is, which keys name an item, and the order items come in."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from service import knowledge
from service.db.worklist import DoseRow, EnrolmentRow, FindingRow, PlanRow, ReportRow
from service.domain.interactions import KnowledgeBase
from service.domain.taper import Step, TaperPlan
from service.domain.taper.plan import Flag
from service.usecases.worklist import ItemRef, ordered, parse_key
from service.usecases.worklist_items import (
    Band,
    ItemKind,
    Page,
    activation_item,
    dose_item,
    draft_item,
    finding_item,
    step_items,
    symptom_item,
)

NOW = dt.datetime(2026, 6, 13, 12, tzinfo=dt.UTC)
PID = uuid.UUID("11111111-1111-4111-8111-111111111111")
QUIET = dict.fromkeys(("anxiety", "sleep", "tremor"), 0)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


def test_a_key_names_one_item_in_one_spelling() -> None:
    subject = uuid.uuid4()
    assert parse_key(f"dose:{subject}") == ItemRef(ItemKind.DOSE, subject)
    assert parse_key(f"step:{subject}:3") == ItemRef(ItemKind.STEP, subject, 3)
    upper = parse_key(f"finding:{str(subject).upper()}")
    assert upper is not None
    assert upper.key == f"finding:{subject}", "one key per item"
    assert parse_key(f" activation:{subject} ") == ItemRef(ItemKind.ACTIVATION, subject)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "dose",
        "dose:",
        "dose:not-a-uuid",
        "note:00000000-0000-4000-8000-000000000000",
        "dose:00000000-0000-4000-8000-000000000000:1",
        "step:00000000-0000-4000-8000-000000000000",
        "step:00000000-0000-4000-8000-000000000000:-1",
        "step:00000000-0000-4000-8000-000000000000:one",
    ],
)
def test_anything_else_is_no_key(key: str) -> None:
    assert parse_key(key) is None


def _finding(severity: str, **detail: Any) -> FindingRow:
    drugs = [{"resolved": "alcohol"}, {"resolved": "diazepam"}]
    return FindingRow(
        id=uuid.uuid4(),
        patient_id=PID,
        kind="drug-drug",
        severity=severity,
        detail={"drugs": drugs, "effect": "Profound sedation.", **detail},
        found_at=NOW,
        name="Alex Kim",
        timezone="America/New_York",
    )


def test_a_contraindicated_finding_outranks_a_major_one_and_names_its_condition() -> None:
    worst = finding_item(_finding("contraindicated", condition="pregnancy"))
    major = finding_item(_finding("major"))
    assert (worst.rank, worst.band, major.rank, major.band) == (0, Band.HIGH, 1, Band.HIGH)
    assert worst.title == "New contraindicated finding: alcohol and diazepam (pregnancy)"
    assert major.detail == "Profound sedation."
    assert (major.target.page, major.target.patient_id) == (Page.CHART, PID)


def _dose(status: str, reason: str | None = None) -> DoseRow:
    return DoseRow(
        id=uuid.uuid4(),
        patient_id=PID,
        drug="diazepam",
        dose_amount=Decimal("5.0000"),
        dose_unit="mg",
        scheduled_at=NOW,
        status=status,
        skip_reason=reason,
        name="Alex Kim",
        timezone="America/New_York",
    )


def test_a_dose_not_logged_in_time_reads_missed_and_a_skipped_one_gives_its_reason() -> None:
    open_ = dose_item(_dose("pending"))
    skipped = dose_item(_dose("skipped", "felt drowsy"))
    assert open_.title == "Missed dose: diazepam 5 mg"
    assert skipped.title == "Skipped dose: diazepam 5 mg"
    assert "Reason given: felt drowsy" in skipped.detail
    assert {open_.band, skipped.band} == {Band.MID}


def _report(items: dict[str, int], *, hold: bool, total: int = 0) -> ReportRow:
    return ReportRow(
        id=uuid.uuid4(),
        plan_id=uuid.uuid4(),
        patient_id=PID,
        step_index=2,
        scale="ciwa-b-short",
        items=items,
        total=total,
        threshold=12,
        hold_proposed=hold,
        reported_at=NOW,
        drug="diazepam",
        name="Alex Kim",
        timezone="UTC",
    )


def test_a_red_flag_comes_first_whatever_the_score(kb: KnowledgeBase) -> None:
    item = symptom_item(_report({**QUIET, "seizure": 1}, hold=True), kb)
    assert item is not None
    assert (item.rank, item.band) == (0, Band.HIGH)
    assert item.title == "Red flag in a symptom report: diazepam taper"
    assert item.detail.startswith("A seizure (fit).")
    assert item.target.page is Page.TAPER_PLAN


def test_a_hold_is_an_item_and_a_quiet_report_is_not(kb: KnowledgeBase) -> None:
    held = symptom_item(_report({**QUIET, "anxiety": 4}, hold=True, total=14), kb)
    assert held is not None
    assert held.rank == 1
    assert held.title.startswith("Hold proposed")
    assert symptom_item(_report(QUIET, hold=False), kb) is None


def _step(index: int, start: dt.date, dose: str, flags: tuple[Flag, ...] = ()) -> Step:
    return Step(
        index=index,
        start_date=start,
        end_date=start + dt.timedelta(days=6),
        daily_dose_mg=Decimal(dose),
        cut_pct=Decimal(0 if index == 0 else 25),
        flags=flags,
        administrations=(),
    )


def _plan(status: str, *steps: Step, tz: str = "Europe/London") -> PlanRow:
    return PlanRow(
        id=uuid.uuid4(),
        patient_id=PID,
        drug="diazepam",
        status=status,
        created_at=NOW - dt.timedelta(days=1),
        plan=TaperPlan(steps=steps).to_json(),
        name="Alex Kim",
        timezone=tz,
    )


def test_the_steps_starting_in_the_window_each_at_midnight_where_the_patient_is(
    kb: KnowledgeBase,
) -> None:
    day = dt.date(2026, 6, 13)
    row = _plan(
        "active",
        _step(0, day - dt.timedelta(days=7), "10"),
        _step(1, day, "7.5"),
        _step(2, day + dt.timedelta(days=7), "5"),
        _step(3, day + dt.timedelta(days=8), "0"),
    )
    found = step_items(row, kb, after=NOW, until=NOW + dt.timedelta(days=7))
    assert [i.key for i in found] == [f"step:{row.id}:2"], "today's step has started"
    (item,) = found
    assert item.when == dt.datetime(2026, 6, 19, 23, tzinfo=dt.UTC), "midnight in London (BST)"
    assert item.title == "Diazepam taper: step 2 starts on 2026-06-20"
    assert item.detail == "5 mg a day, a cut of 25%."
    later = step_items(row, kb, after=NOW, until=NOW + dt.timedelta(days=8))
    assert later[-1].detail == "The last step: the dose stops."


def test_a_draft_says_what_waits_for_approval_and_when_it_has_gone_stale(
    kb: KnowledgeBase,
) -> None:
    fresh = _plan(
        "draft",
        _step(0, dt.date(2026, 6, 20), "10"),
        _step(1, dt.date(2026, 6, 27), "5", (Flag.EXCEEDS_CAP,)),
    )
    item = draft_item(fresh, kb, NOW)
    assert item.title == "Taper plan waiting for approval: diazepam"
    assert item.detail == "2 steps over 14 days from 2026-06-20. 1 to confirm on approval."
    stale = draft_item(_plan("draft", _step(0, dt.date(2026, 6, 1), "10")), kb, NOW)
    assert stale.detail.endswith("Its start date has passed: draft it again.")


def _enrolment(expires_at: dt.datetime) -> EnrolmentRow:
    return EnrolmentRow(
        id=uuid.uuid4(),
        email="jordan@example.org",
        patient_id=uuid.uuid4(),
        created_at=NOW - dt.timedelta(days=4),
        expires_at=expires_at,
    )


def test_an_enrolment_shows_only_what_the_clinician_entered() -> None:
    after = dt.timedelta(hours=72)
    expired = activation_item(_enrolment(NOW - dt.timedelta(days=1)), NOW, after=after)
    pending = activation_item(_enrolment(NOW + dt.timedelta(days=1)), NOW, after=after)
    assert expired.title == "Not activated 72 hours after registration"
    assert "expired" in expired.detail
    assert "not been used" in pending.detail
    assert (expired.patient_id, expired.patient_name) == (None, "jordan@example.org")
    assert expired.target.page is Page.PATIENTS


def test_most_urgent_first_then_nearest_now(kb: KnowledgeBase) -> None:
    old_major = finding_item(_finding("major")._replace(found_at=NOW - dt.timedelta(days=3)))
    new_major = finding_item(_finding("major")._replace(found_at=NOW - dt.timedelta(hours=1)))
    worst = finding_item(_finding("contraindicated")._replace(found_at=NOW - dt.timedelta(days=9)))
    dose = dose_item(_dose("missed")._replace(scheduled_at=NOW - dt.timedelta(minutes=5)))
    day = dt.date(2026, 6, 13)
    soon, later = step_items(
        _plan(
            "approved",
            _step(0, day + dt.timedelta(days=1), "10"),
            _step(1, day + dt.timedelta(days=2), "7.5"),
        ),
        kb,
        after=NOW,
        until=NOW + dt.timedelta(days=7),
    )
    enrolled = activation_item(_enrolment(NOW), NOW, after=dt.timedelta(hours=72))
    got = ordered([enrolled, later, dose, old_major, soon, new_major, worst], NOW)
    assert got == [worst, new_major, old_major, dose, soon, later, enrolled]
