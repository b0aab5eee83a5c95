"""The rules a change to a prescription must follow, without a database: which
changes a prescription may take, when a resume date is allowed and carried, and
what the abrupt-stop guard measures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from service.domain.abrupt_stop import StopKind, cut_baseline, status_change_stop
from service.domain.errors import DomainValidationError, TransitionError
from service.domain.prescriptions import (
    TAPER_HELD_FIELDS,
    Action,
    Dose,
    PrescriptionTerms,
    Schedule,
    Status,
    check_resume_later,
    check_resume_with_pause,
    check_revisable,
    check_same_drug,
    resume_date,
    taper_held,
)

TODAY = dt.date(2024, 3, 10)


def make_terms(amount: int = 10, **overrides: Any) -> PrescriptionTerms:
    base: dict[str, Any] = {
        "drug": "Diazepam",
        "dose": Dose(amount=Decimal(amount), unit="mg"),
        "route": "oral",
        "schedule": Schedule(times=(dt.time(8),)),
        "start_date": dt.date(2024, 1, 1),
    }
    return PrescriptionTerms(**(base | overrides))


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.PAUSED])
def test_an_active_or_paused_prescription_may_be_revised(status: Status) -> None:
    check_revisable(status)


def test_a_discontinued_prescription_may_not_be_revised() -> None:
    with pytest.raises(TransitionError, match="prescribe anew"):
        check_revisable(Status.DISCONTINUED)


@pytest.mark.parametrize("changes", [{}, {"drug": "diazepam"}, {"drug": "  DIAZEPAM "}])
def test_a_revision_may_restate_the_drug_in_any_case(changes: dict[str, Any]) -> None:
    check_same_drug(make_terms(), changes)


def test_a_revision_may_not_change_the_drug() -> None:
    with pytest.raises(DomainValidationError) as info:
        check_same_drug(make_terms(), {"drug": "lorazepam"})
    assert list(info.value.errors) == ["drug"]
    assert "Prescribe the new drug" in info.value.errors["drug"][0]


def test_a_taper_holds_the_dose_schedule_and_dates_but_not_the_rest() -> None:
    changes = {"instructions": "with food", "schedule": {}, "dose": {}, "route": "oral"}
    assert taper_held(changes) == ["dose", "schedule"]
    assert taper_held({"instructions": "with food"}) == []
    assert taper_held(dict.fromkeys(TAPER_HELD_FIELDS)) == sorted(TAPER_HELD_FIELDS)


@pytest.mark.parametrize("action", [Action.RESUME, Action.DISCONTINUE])
def test_only_a_pause_takes_a_resume_date(action: Action) -> None:
    check_resume_with_pause(action, None)
    check_resume_with_pause(Action.PAUSE, TODAY + dt.timedelta(days=3))
    with pytest.raises(DomainValidationError) as info:
        check_resume_with_pause(action, TODAY + dt.timedelta(days=3))
    assert info.value.errors == {"resume_on": ["Only for a pause."]}


@pytest.mark.parametrize("days", [0, -1])
def test_a_pause_resumes_on_a_later_day(days: int) -> None:
    check_resume_later(None, today=TODAY)
    check_resume_later(TODAY + dt.timedelta(days=1), today=TODAY)
    with pytest.raises(DomainValidationError) as info:
        check_resume_later(TODAY + dt.timedelta(days=days), today=TODAY)
    assert str(TODAY) in info.value.errors["resume_on"][0]


def test_a_change_during_a_pause_keeps_the_date_it_ends() -> None:
    ends = TODAY + dt.timedelta(days=5)
    later = TODAY + dt.timedelta(days=9)
    assert resume_date(Status.PAUSED, given=None, current=ends) == ends
    assert resume_date(Status.PAUSED, given=later, current=ends) == later
    assert resume_date(Status.ACTIVE, given=None, current=ends) is None
    assert resume_date(Status.DISCONTINUED, given=None, current=ends) is None


@pytest.mark.parametrize(
    ("action", "resume_on", "kind"),
    [
        (Action.DISCONTINUE, None, StopKind.DISCONTINUE),
        (Action.DISCONTINUE, TODAY, StopKind.DISCONTINUE),
        (Action.PAUSE, None, StopKind.OPEN_PAUSE),
        (Action.PAUSE, TODAY, None),
        (Action.RESUME, None, None),
    ],
)
def test_a_status_change_stops_the_drug_unless_it_resumes(
    action: Action, resume_on: dt.date | None, kind: StopKind | None
) -> None:
    stop = status_change_stop(make_terms(), action, resume_on=resume_on)
    assert (stop.kind if stop else None) == kind


def test_a_cut_is_measured_from_the_last_override_on() -> None:
    ten, eight, five, four = make_terms(10), make_terms(8), make_terms(5), make_terms(4)
    assert cut_baseline([]) == []
    assert cut_baseline([(ten, False), (eight, False)]) == [ten, eight]
    assert cut_baseline([(ten, False), (five, True), (four, False)]) == [five, four]
    assert cut_baseline([(ten, True), (eight, False), (five, True)]) == [five]
