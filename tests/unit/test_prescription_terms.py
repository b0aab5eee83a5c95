"""Prescription terms: validation rules, the status life cycle and revisions."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.errors import DomainValidationError, TransitionError
from service.domain.prescriptions import (
    DOSE_UNIT_CEILINGS,
    EARLIEST_START,
    LATEST_DATE,
    ROUTES,
    WEEKDAYS,
    Action,
    Dose,
    PrescriptionTerms,
    Schedule,
    Status,
    revise,
    transition,
    validate_terms,
)

T8, T12, T20 = dt.time(8), dt.time(12), dt.time(20)
TWENTY_FIVE_TIMES = tuple(dt.time(h, m) for h in range(5) for m in range(5))
PRN = Schedule(as_needed=True, max_doses_per_day=4, min_hours_between=Decimal(4))


def make_terms(**overrides: Any) -> PrescriptionTerms:
    base: dict[str, Any] = {
        "drug": "escitalopram",
        "dose": Dose(amount=Decimal(10), unit="mg"),
        "route": "oral",
        "schedule": Schedule(times=(T8,)),
        "start_date": dt.date(2024, 1, 1),
    }
    return PrescriptionTerms(**(base | overrides))


def errors_of(terms: PrescriptionTerms) -> dict[str, list[str]]:
    with pytest.raises(DomainValidationError) as info:
        validate_terms(terms)
    return info.value.errors


def test_valid_terms_come_back_with_times_sorted_and_drug_trimmed() -> None:
    out = validate_terms(make_terms(drug="  diazepam ", schedule=Schedule(times=(T20, T8, T12))))
    assert out.schedule.times == (T8, T12, T20)
    assert out.drug == "diazepam"


@pytest.mark.parametrize("unit", sorted(DOSE_UNIT_CEILINGS))
def test_dose_at_the_unit_ceiling_is_accepted_and_just_above_is_not(unit: str) -> None:
    ceiling = DOSE_UNIT_CEILINGS[unit]
    assert validate_terms(make_terms(dose=Dose(amount=ceiling, unit=unit))).dose.amount == ceiling
    errors = errors_of(make_terms(dose=Dose(amount=ceiling + Decimal("0.0001"), unit=unit)))
    assert list(errors) == ["dose.amount"]
    assert "implausible" in errors["dose.amount"][0]


@pytest.mark.parametrize(
    ("dose", "key"),
    [
        (Dose(amount=Decimal(0), unit="mg"), "dose.amount"),
        (Dose(amount=Decimal("-0.5"), unit="mg"), "dose.amount"),
        (Dose(amount=Decimal("NaN"), unit="mg"), "dose.amount"),
        (Dose(amount=Decimal("Infinity"), unit="mg"), "dose.amount"),
        (Dose(amount=Decimal("0.00001"), unit="mg"), "dose.amount"),
        (Dose(amount=Decimal("1.12345"), unit="mg"), "dose.amount"),
        (Dose(amount=Decimal(10), unit="MG"), "dose.unit"),
        (Dose(amount=Decimal(10), unit="spoonful"), "dose.unit"),
    ],
)
def test_bad_dose_is_reported_under_its_field(dose: Dose, key: str) -> None:
    assert list(errors_of(make_terms(dose=dose))) == [key]


def test_four_decimal_places_are_allowed() -> None:
    assert validate_terms(make_terms(dose=Dose(amount=Decimal("0.1255"), unit="mg")))


def test_unknown_unit_and_bad_amount_are_both_reported() -> None:
    assert set(errors_of(make_terms(dose=Dose(amount=Decimal(-1), unit="pint")))) == {
        "dose.unit",
        "dose.amount",
    }


@pytest.mark.parametrize("route", ROUTES)
def test_every_listed_route_is_accepted(route: str) -> None:
    assert validate_terms(make_terms(route=route)).route == route


@pytest.mark.parametrize(("field", "value"), [("route", "by mouth"), ("drug", "   ")])
def test_unknown_route_and_blank_drug_are_refused(field: str, value: str) -> None:
    assert list(errors_of(make_terms(**{field: value}))) == [field]


@pytest.mark.parametrize(
    ("schedule", "key"),
    [
        (Schedule(), "schedule.times"),
        (Schedule(times=(T8,), max_doses_per_day=3), "schedule.max_doses_per_day"),
        (Schedule(times=(T8,), min_hours_between=Decimal(4)), "schedule.min_hours_between"),
        (Schedule(times=(T8, T12, T8)), "schedule.times"),
        (Schedule(times=(dt.time(8, 0, 30),)), "schedule.times"),
        (Schedule(times=TWENTY_FIVE_TIMES), "schedule.times"),
        (replace(PRN, times=(T8,)), "schedule.times"),
        (replace(PRN, max_doses_per_day=None), "schedule.max_doses_per_day"),
        (replace(PRN, max_doses_per_day=0), "schedule.max_doses_per_day"),
        (replace(PRN, max_doses_per_day=25), "schedule.max_doses_per_day"),
        (replace(PRN, min_hours_between=Decimal(0)), "schedule.min_hours_between"),
        (replace(PRN, min_hours_between=Decimal("72.01")), "schedule.min_hours_between"),
        (replace(PRN, days_of_week=("mon",)), "schedule.as_needed"),
        (replace(PRN, every_n_days=2), "schedule.as_needed"),
        (Schedule(times=(T8,), every_n_days=0), "schedule.every_n_days"),
        (Schedule(times=(T8,), every_n_days=366), "schedule.every_n_days"),
        (Schedule(times=(T8,), days_of_week=()), "schedule.days_of_week"),
        (Schedule(times=(T8,), days_of_week=("Monday",)), "schedule.days_of_week"),
        (Schedule(times=(T8,), days_of_week=("mon", "MON")), "schedule.days_of_week"),
        (Schedule(times=(T8,), days_of_week=("mon", "wed", "mon")), "schedule.days_of_week"),
        (Schedule(times=(T8,), days_of_week=("mon",), every_n_days=2), "schedule.days_of_week"),
    ],
)
def test_bad_schedule_is_reported_under_its_field(schedule: Schedule, key: str) -> None:
    assert list(errors_of(make_terms(schedule=schedule))) == [key]


@pytest.mark.parametrize(
    "schedule",
    [
        PRN,
        replace(PRN, min_hours_between=None, max_doses_per_day=24),
        replace(PRN, min_hours_between=Decimal(72)),
        Schedule(times=(T8,), every_n_days=365),
        Schedule(times=tuple(dt.time(h) for h in range(24))),
        Schedule(times=(T8,), days_of_week=WEEKDAYS),
    ],
)
def test_schedules_at_the_limits_are_accepted(schedule: Schedule) -> None:
    assert validate_terms(make_terms(schedule=schedule)).schedule.as_needed is schedule.as_needed


@pytest.mark.parametrize(
    ("start", "end", "key"),
    [
        (EARLIEST_START - dt.timedelta(days=1), None, "start_date"),
        (LATEST_DATE + dt.timedelta(days=1), None, "start_date"),
        (dt.date(2024, 5, 2), dt.date(2024, 5, 1), "end_date"),
        (dt.date(2024, 5, 2), LATEST_DATE + dt.timedelta(days=1), "end_date"),
    ],
)
def test_dates_outside_the_window_or_reversed_are_refused(
    start: dt.date, end: dt.date | None, key: str
) -> None:
    assert list(errors_of(make_terms(start_date=start, end_date=end))) == [key]


@pytest.mark.parametrize(
    ("start", "end"),
    [(EARLIEST_START, EARLIEST_START), (dt.date(2024, 5, 1), LATEST_DATE), (LATEST_DATE, None)],
)
def test_dates_at_the_edges_are_accepted(start: dt.date, end: dt.date | None) -> None:
    assert validate_terms(make_terms(start_date=start, end_date=end)).end_date == end


def test_every_bad_field_is_reported_at_once() -> None:
    terms = make_terms(
        drug="",
        dose=Dose(amount=Decimal(0), unit="pint"),
        route="telepathic",
        schedule=Schedule(times=(T8, T8), every_n_days=2, days_of_week=("funday",)),
        start_date=dt.date(1999, 12, 31),
        end_date=dt.date(1999, 1, 1),
    )
    errors = errors_of(terms)
    assert set(errors) == {
        "drug",
        "route",
        "dose.unit",
        "dose.amount",
        "schedule.times",
        "schedule.days_of_week",
        "start_date",
        "end_date",
    }
    assert len(errors["schedule.days_of_week"]) == 2
    assert all(messages and all(messages) for messages in errors.values())


ALLOWED = {
    (Status.ACTIVE, Action.PAUSE): Status.PAUSED,
    (Status.PAUSED, Action.RESUME): Status.ACTIVE,
    (Status.ACTIVE, Action.DISCONTINUE): Status.DISCONTINUED,
    (Status.PAUSED, Action.DISCONTINUE): Status.DISCONTINUED,
}
REFUSED = [pair for pair in itertools.product(Status, Action) if pair not in ALLOWED]


@pytest.mark.parametrize(("status", "action"), list(ALLOWED))
def test_allowed_transitions(status: Status, action: Action) -> None:
    assert transition(status, action) is ALLOWED[(status, action)]


@pytest.mark.parametrize(("status", "action"), REFUSED)
def test_other_transitions_are_refused(status: Status, action: Action) -> None:
    with pytest.raises(TransitionError, match=f"cannot {action.value} .* {status.value}"):
        transition(status, action)


@pytest.mark.parametrize("action", list(Action))
def test_discontinued_is_final(action: Action) -> None:
    with pytest.raises(TransitionError):
        transition(Status.DISCONTINUED, action)


def test_revise_returns_new_validated_terms_and_leaves_the_original() -> None:
    current = validate_terms(make_terms())
    new = revise(current, {"dose": Dose(amount=Decimal(5), unit="mg"), "drug": " Lexapro "})
    assert new.dose.amount == Decimal(5)
    assert new.drug == "Lexapro"
    assert new.route == current.route
    assert current == validate_terms(make_terms())


def test_revise_validates_the_result_as_a_whole() -> None:
    current = make_terms(start_date=dt.date(2024, 5, 1))
    with pytest.raises(DomainValidationError) as info:
        revise(current, {"end_date": dt.date(2024, 4, 30), "schedule": Schedule()})
    assert set(info.value.errors) == {"end_date", "schedule.times"}


def test_revise_refuses_unknown_fields_by_name() -> None:
    with pytest.raises(DomainValidationError) as info:
        revise(make_terms(), {"status": "paused", "patient_id": "x", "drug": "diazepam"})
    assert set(info.value.errors) == {"status", "patient_id"}


# --- properties -------------------------------------------------------------

clock_times = st.builds(dt.time, hour=st.integers(0, 23), minute=st.integers(0, 59))
fixed_schedules = st.builds(
    Schedule,
    times=st.lists(clock_times, min_size=1, max_size=24, unique=True).map(tuple),
    every_n_days=st.integers(1, 365),
) | st.builds(
    Schedule,
    times=st.lists(clock_times, min_size=1, max_size=24, unique=True).map(tuple),
    days_of_week=st.lists(st.sampled_from(WEEKDAYS), min_size=1, unique=True).map(tuple),
)
prn_schedules = st.builds(
    Schedule,
    as_needed=st.just(True),
    max_doses_per_day=st.integers(1, 24),
    min_hours_between=st.none()
    | st.decimals(min_value=0, max_value=72, allow_nan=False).filter(lambda d: d > 0),
)
valid_schedules = fixed_schedules | prn_schedules


@st.composite
def valid_terms(draw: st.DrawFn) -> PrescriptionTerms:
    unit = draw(st.sampled_from(sorted(DOSE_UNIT_CEILINGS)))
    amount = draw(st.decimals(min_value="0.0001", max_value=DOSE_UNIT_CEILINGS[unit], places=4))
    start = draw(st.dates(EARLIEST_START, LATEST_DATE))
    return PrescriptionTerms(
        drug=draw(st.text(min_size=1).filter(str.strip)),
        dose=Dose(amount=amount, unit=unit),
        route=draw(st.sampled_from(ROUTES)),
        schedule=draw(valid_schedules),
        start_date=start,
        end_date=draw(st.none() | st.dates(start, LATEST_DATE)),
        instructions=draw(st.none() | st.text()),
    )


@given(valid_schedules)
def test_schedule_json_round_trip(schedule: Schedule) -> None:
    wire = json.loads(json.dumps(schedule.to_json()))
    assert Schedule.from_json(wire) == schedule


@given(valid_terms())
def test_validate_terms_is_idempotent(terms: PrescriptionTerms) -> None:
    once = validate_terms(terms)
    assert validate_terms(once) == once
    assert list(once.schedule.times) == sorted(terms.schedule.times)


@st.composite
def implausible_doses(draw: st.DrawFn) -> Dose:
    unit = draw(st.sampled_from(sorted(DOSE_UNIT_CEILINGS)))
    ceiling = DOSE_UNIT_CEILINGS[unit]
    amount = draw(
        st.decimals(max_value=0, allow_nan=False)
        | st.decimals(min_value=ceiling, allow_nan=False).filter(lambda d: d > ceiling)
    )
    return Dose(amount=amount, unit=unit)


@given(implausible_doses())
def test_amount_outside_the_plausible_range_is_rejected(dose: Dose) -> None:
    with pytest.raises(DomainValidationError) as info:
        validate_terms(make_terms(dose=dose))
    assert list(info.value.errors) == ["dose.amount"]


@st.composite
def split_schedules(draw: st.DrawFn) -> Schedule:
    """Fixed times with their own amounts, as a taper step of 5 mg and 2.5 mg."""
    times = draw(st.lists(clock_times, min_size=1, max_size=6, unique=True))
    amounts = draw(
        st.lists(
            st.decimals(min_value="0.0001", max_value=100, places=4),
            min_size=len(times),
            max_size=len(times),
        )
    )
    return Schedule(times=tuple(times), amounts=tuple(amounts))


@given(split_schedules())
def test_each_amount_stays_with_its_time(schedule: Schedule) -> None:
    assert schedule.amounts is not None
    out = validate_terms(make_terms(schedule=schedule)).schedule
    assert list(out.times) == sorted(schedule.times)
    pairs = dict(zip(schedule.times, schedule.amounts, strict=True))
    assert all(out.amount_at(t, Decimal(99)) == pairs[t] for t in out.times)
    assert out.daily_total(Decimal(99)) == sum(schedule.amounts)
    assert Schedule.from_json(json.loads(json.dumps(out.to_json()))) == out


def test_without_amounts_every_time_takes_the_dose() -> None:
    schedule = Schedule(times=(T8, T20))
    assert schedule.amount_at(T20, Decimal("2.5")) == Decimal("2.5")
    assert schedule.daily_total(Decimal("2.5")) == Decimal(5)


@pytest.mark.parametrize(
    ("schedule", "key"),
    [
        (Schedule(times=(T8, T20), amounts=(Decimal(5),)), "schedule.amounts"),
        (Schedule(times=(T8,), amounts=(Decimal(0),)), "schedule.amounts.0"),
        (Schedule(times=(T8, T20), amounts=(Decimal(5), Decimal("0.00001"))), "schedule.amounts.1"),
        (Schedule(times=(T8,), amounts=(Decimal(20_000),)), "schedule.amounts.0"),
        (replace(PRN, amounts=(Decimal(5),)), "schedule.amounts"),
    ],
)
def test_bad_amounts_are_reported_under_their_field(schedule: Schedule, key: str) -> None:
    assert key in errors_of(make_terms(schedule=schedule))


def test_a_new_dose_alone_is_refused_where_each_time_has_its_amount() -> None:
    split = make_terms(schedule=Schedule(times=(T8, T20), amounts=(Decimal(5), Decimal("2.5"))))
    with pytest.raises(DomainValidationError) as info:
        revise(split, {"dose": Dose(amount=Decimal(4), unit="mg")})
    assert set(info.value.errors) == {"dose.amount"}
    both = revise(
        split, {"dose": Dose(amount=Decimal(4), unit="mg"), "schedule": Schedule(times=(T8,))}
    )
    assert (both.dose.amount, both.schedule.amounts) == (Decimal(4), None)
