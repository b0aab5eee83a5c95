"""The occupancy model the hyperbolic taper uses, and the shipped parameters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.catalog import Occupancy, OccupancyAnchor
from service.knowledge import load
from service.knowledge.loader import OCCUPANCY_TOLERANCE_PCT

MODEL = Occupancy(
    target="SERT",
    emax_pct=Decimal("90.7"),
    ed50_mg=Decimal("1.33"),
    anchors=(
        OccupancyAnchor(dose_mg=Decimal(10), occupancy_pct=Decimal(80), source="a"),
        OccupancyAnchor(dose_mg=Decimal(20), occupancy_pct=Decimal(85), source="b"),
    ),
    derivation="test",
)


def test_shipped_models_pass_through_their_anchors() -> None:
    kb = load()
    models = {d.id: d.occupancy for d in kb.catalog.drugs.values() if d.occupancy}
    assert {"citalopram", "escitalopram", "sertraline", "paroxetine", "fluoxetine"} <= set(models)
    assert "venlafaxine" in models
    for drug_id, model in models.items():
        assert model.derivation, drug_id
        assert len(model.anchors) >= 2, drug_id
        assert all(s in kb.catalog.sources for s in model.sources), drug_id
        for anchor in model.anchors:
            assert abs(model.at(anchor.dose_mg) - anchor.occupancy_pct) <= OCCUPANCY_TOLERANCE_PCT


def test_occupancy_rises_with_dose_towards_emax() -> None:
    doses = [Decimal(d) for d in ("0", "0.5", "1.33", "5", "20", "200")]
    values = [MODEL.at(d) for d in doses]
    assert values == sorted(values)
    assert values[0] == 0
    assert MODEL.at(Decimal("1.33")) == MODEL.emax_pct / 2
    assert values[-1] < MODEL.emax_pct


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2))
def test_dose_for_inverts_at(dose: Decimal) -> None:
    assert MODEL.dose_for(MODEL.at(dose)) == pytest.approx(dose, rel=Decimal("1e-12"))


def test_no_dose_reaches_emax() -> None:
    with pytest.raises(ValueError, match="emax"):
        MODEL.dose_for(MODEL.emax_pct)
    assert MODEL.dose_for(Decimal(0)) == 0
