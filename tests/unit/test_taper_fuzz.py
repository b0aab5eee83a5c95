"""Whatever the input: a plan that holds the invariants, or errors naming fields.

Never a crash, never a loop: the step and grid bounds end every computation.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from service.domain.errors import DomainValidationError
from service.domain.taper import (
    Hyperbolic,
    Linear,
    Percent,
    TaperFormulation,
    TaperSettings,
)
from tests.unit import taper_drugs as drugs
from tests.unit.taper_checks import achievable, attempt, check_invariants
from tests.unit.taper_strategies import TIMES, amounts, odd_formulation, random_kit

D = Decimal
PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(max_examples=150, deadline=None)
@given(
    start=amounts,
    target=amounts,
    cap=st.decimals(min_value=D(-5), max_value=D(110), places=1, allow_nan=False),
    floor=amounts,
    forms=st.lists(odd_formulation(), max_size=4),
    algorithm=st.one_of(
        st.builds(Linear, step_mg=amounts),
        st.builds(Percent, percent=st.decimals(min_value=D(-1), max_value=D(101), places=1)),
        st.builds(
            Hyperbolic, occupancy_step_pct=st.decimals(min_value=D(0), max_value=D(50), places=1)
        ),
    ),
    times=st.sampled_from(TIMES),
)
def test_any_input_gives_a_valid_plan_or_names_a_field(
    start: Decimal,
    target: Decimal,
    cap: Decimal,
    floor: Decimal,
    forms: list[TaperFormulation],
    algorithm: Linear | Percent | Hyperbolic,
    times: tuple[str, ...],
) -> None:
    s = drugs.settings(
        start=str(start),
        target_dose_mg=target,
        max_cut_pct=cap,
        floor_dose_mg=floor,
        algorithm=algorithm,
        formulations=tuple(forms),
        times=times,
        occupancy=drugs.ESCITALOPRAM_SERT,
    )
    plan = attempt(s)
    if isinstance(plan, DomainValidationError):
        assert plan.errors
        event("refused")
        return
    event("planned")
    check_invariants(s, plan)


@PROPERTY
@given(random_kit())
def test_unusual_formulations_still_hold_the_invariants(s: TaperSettings) -> None:
    plan = attempt(s)
    if isinstance(plan, DomainValidationError):
        too_long = {"formulations", "algorithm.step_mg", "algorithm.percent", "interval_days"}
        assert set(plan.errors) <= too_long | {"start_dose_mg"}
        if "start_dose_mg" in plan.errors:
            # A broken tablet is never taken with a measured volume.
            assert Fraction(s.start_dose_mg) not in achievable(s)
        event("refused")
        return
    event("planned")
    check_invariants(s, plan)
