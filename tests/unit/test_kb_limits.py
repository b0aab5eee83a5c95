"""The curated dose limits (service/knowledge/data/limits/*.yaml): figures from the
labels, routes the catalog's formulations allow, units that compare with a dose,
and coverage of the withdrawal-risk drugs."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

import pytest

from service.domain.dosing import DoseLimit, FormulationFacts, routes_of, units_of
from service.knowledge import load

kb = load()

# Withdrawal-risk drugs with an oral formulation whose label states no adult
# oral maximum, so they have no oral limit on purpose.
NO_LABELLED_MAXIMUM = {
    # Opioids titrated to effect; the labels set no upper dose.
    "oxycodone",
    "hydrocodone",
    "morphine",
    "hydromorphone",
    "methadone",
    "meperidine",
    "oxymorphone",
    # Systemic corticosteroids: dosage individualized to the disease, no ceiling.
    "prednisone",
    "prednisolone",
    "methylprednisolone",
    "dexamethasone",
    "hydrocortisone",
    # Valproate and cannabidiol are dosed by weight (mg/kg/day maxima only).
    "valproate",
    "cannabidiol",
    # Midazolam's oral syrup is labelled for paediatric sedation only.
    "midazolam",
    # Phenobarbital tablets: unapproved marketed labels give ranges, no maximum.
    "phenobarbital",
    # Chlorpromazine: dosage raised gradually; the label states no firm maximum.
    "chlorpromazine",
    # Guanfacine: Tenex gives no maximum (adverse effects rise above 3 mg/day)
    # and Intuniv's maxima are paediatric.
    "guanfacine",
}


def _facts(drug: str) -> list[FormulationFacts]:
    return [FormulationFacts(form=f.form, unit=f.unit) for f in kb.catalog.drugs[drug].formulations]


def _limit(drug: str, route: str = "oral") -> DoseLimit:
    return kb.dose_limits[(drug, route)]


@pytest.mark.parametrize(
    ("drug", "route", "daily", "unit"),
    [
        ("acetaminophen", "oral", "4", "g"),
        ("ibuprofen", "oral", "3200", "mg"),
        ("sertraline", "oral", "200", "mg"),
        ("escitalopram", "oral", "20", "mg"),
        ("diazepam", "oral", "40", "mg"),
        ("alprazolam", "oral", "10", "mg"),
        ("zolpidem", "oral", "12.5", "mg"),
        ("citalopram", "oral", "40", "mg"),
        ("gabapentin", "oral", "3600", "mg"),
        ("pregabalin", "oral", "660", "mg"),
        ("tramadol", "oral", "400", "mg"),
        ("baclofen", "oral", "80", "mg"),
        ("clonidine", "transdermal", "0.6", "mg"),
        ("atorvastatin", "oral", "80", "mg"),
        ("lisinopril", "oral", "80", "mg"),
        ("metformin", "oral", "2550", "mg"),
        ("sumatriptan", "subcutaneous", "12", "mg"),
        ("ceftriaxone", "intravenous", "4", "g"),
        ("potassium-chloride", "oral", "200", "mEq"),
        ("nystatin", "oral", "3000000", "units"),
    ],
)
def test_sample_of_label_maxima(drug: str, route: str, daily: str, unit: str) -> None:
    limit = _limit(drug, route)
    assert limit.max_daily.value == Decimal(daily)
    assert limit.max_daily.unit == unit


@pytest.mark.parametrize(
    ("drug", "single"),
    [("acetaminophen", "1"), ("sumatriptan", "100"), ("lofexidine", "0.72"), ("triazolam", "0.5")],
)
def test_single_dose_maxima(drug: str, single: str) -> None:
    maximum = _limit(drug).max_single
    assert maximum is not None
    assert maximum.value == Decimal(single)


def test_impaired_maxima() -> None:
    citalopram = {i.condition: i for i in _limit("citalopram").impaired}
    assert citalopram["hepatic-impairment"].max_daily.value == Decimal(20)
    assert not citalopram["hepatic-impairment"].child_pugh  # every Child-Pugh class
    gabapentin = {i.egfr_below: i.max_daily.value for i in _limit("gabapentin").impaired}
    assert gabapentin == {Decimal(60): Decimal(1400), Decimal(30): Decimal(700)}
    eszopiclone = _limit("eszopiclone").impaired[0]
    assert eszopiclone.child_pugh == frozenset({"C"})
    assert eszopiclone.max_daily.value == Decimal(2)


def test_every_limit_is_for_a_route_the_formulations_allow() -> None:
    wrong = [
        f"{drug} {route}"
        for (drug, route) in kb.dose_limits
        if route not in routes_of(_facts(drug))
    ]
    assert not wrong


def test_every_limit_is_in_a_unit_a_dose_by_that_route_can_be_written_in() -> None:
    """Otherwise the dose-range check could never compare a dose with it."""
    wrong = []
    for (drug, route), limit in kb.dose_limits.items():
        units = units_of(_facts(drug), route)
        amounts = [limit.max_daily, *[i.max_daily for i in limit.impaired]]
        if limit.max_single is not None:
            amounts.append(limit.max_single)
        wrong += [f"{drug} {route} {a}" for a in amounts if a.unit not in units]
    assert not wrong


def test_every_limit_names_its_label_section_and_sources() -> None:
    for limit in kb.dose_limits.values():
        assert limit.label_section.strip(), limit.drug
        assert limit.sources, limit.drug
        assert set(limit.sources) <= set(kb.catalog.sources)
        for impaired in limit.impaired:
            assert impaired.label_section.strip(), limit.drug
            assert impaired.sources, limit.drug
            assert set(impaired.sources) <= set(kb.catalog.sources)


def test_limits_are_consistent() -> None:
    """A single dose never exceeds the daily maximum, an impairment only lowers it,
    and a lower eGFR threshold never allows more than a higher one."""
    for limit in kb.dose_limits.values():
        daily = limit.max_daily
        if limit.max_single is not None:
            single = limit.max_single.expressed_in(daily.unit)
            assert single is not None, limit.drug
            assert single <= daily.value, limit.drug
        renal: list[tuple[Decimal, Decimal]] = []
        for impaired in limit.impaired:
            lower = impaired.max_daily.expressed_in(daily.unit)
            assert lower is not None, limit.drug
            assert lower < daily.value, limit.drug
            assert impaired.condition in ("hepatic-impairment", "renal-impairment")
            if impaired.condition == "renal-impairment":
                assert impaired.egfr_below is not None, limit.drug
                renal.append((impaired.egfr_below, lower))
            else:
                assert impaired.child_pugh <= {"A", "B", "C"}, limit.drug
        renal.sort(reverse=True)
        for (_, higher), (_, lower) in pairwise(renal):
            assert lower <= higher, limit.drug


def test_every_withdrawal_risk_drug_with_an_oral_form_has_an_oral_limit() -> None:
    missing = sorted(
        drug.id
        for drug in kb.catalog.drugs.values()
        if drug.withdrawal_risk
        and "oral" in routes_of(_facts(drug.id))
        and (drug.id, "oral") not in kb.dose_limits
        and drug.id not in NO_LABELLED_MAXIMUM
    )
    assert not missing, f"add an oral limit or list them in NO_LABELLED_MAXIMUM: {missing}"


def test_the_allow_list_holds_only_drugs_without_an_oral_limit() -> None:
    stale = sorted(d for d in NO_LABELLED_MAXIMUM if (d, "oral") in kb.dose_limits)
    assert not stale
