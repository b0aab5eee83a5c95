"""A taper plan's life cycle without a database: from which statuses each change
is allowed, and what a refused change says."""

from __future__ import annotations

import itertools

import pytest

from service.domain.errors import TransitionError
from service.domain.taper.status import (
    FINAL,
    OPEN,
    RUNNING,
    UNDER_WAY,
    PlanChange,
    PlanStatus,
    allowed_from,
    check_change,
)

S = PlanStatus
# Every change and the statuses it is made from; any other status refuses it.
ALLOWED: dict[PlanChange, set[PlanStatus]] = {
    PlanChange.CREATE: set(),
    PlanChange.APPROVE: {S.DRAFT},
    PlanChange.PAUSE: {S.APPROVED, S.ACTIVE},
    PlanChange.RESUME: {S.PAUSED},
    PlanChange.EXTEND: {S.DRAFT, S.APPROVED, S.ACTIVE, S.PAUSED},
    PlanChange.STEP_BACK: {S.ACTIVE, S.PAUSED},
    PlanChange.CANCEL: {S.DRAFT, S.APPROVED, S.ACTIVE, S.PAUSED},
    PlanChange.SUPERSEDE: {S.DRAFT},
    PlanChange.START: {S.APPROVED},
    PlanChange.DELAY: {S.APPROVED, S.ACTIVE},
    PlanChange.FINISH: {S.APPROVED, S.ACTIVE},
}


def test_the_table_names_every_change() -> None:
    assert set(ALLOWED) == set(PlanChange)


@pytest.mark.parametrize(("change", "status"), list(itertools.product(PlanChange, PlanStatus)))
def test_a_change_is_allowed_from_its_statuses_only(change: PlanChange, status: PlanStatus) -> None:
    if status in ALLOWED[change]:
        assert check_change(status.value, change) is status
        assert status in allowed_from(change)
        return
    with pytest.raises(TransitionError) as refused:
        check_change(status.value, change)
    assert str(refused.value) == f"This plan is {status.value}; it cannot take a {change.value}."
    assert status not in allowed_from(change)


@pytest.mark.parametrize("status", FINAL)
def test_a_completed_or_cancelled_plan_takes_no_change(status: PlanStatus) -> None:
    for change in PlanChange:
        with pytest.raises(TransitionError):
            check_change(status, change)


def test_the_status_groups_nest() -> None:
    assert set(RUNNING) < set(UNDER_WAY) < set(OPEN)
    assert set(OPEN) | set(FINAL) == set(PlanStatus)
    assert not set(OPEN) & set(FINAL)


def test_a_status_not_in_the_life_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="archived"):
        check_change("archived", PlanChange.CANCEL)
