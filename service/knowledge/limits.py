"""The dose-limit files: the label's usual adult maxima, lower in hepatic or renal
impairment where the label says so."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from service.domain.catalog import Drug, Source
from service.domain.conditions import ConditionCode
from service.domain.dosing import Amount, DoseLimit, ImpairedLimit
from service.domain.prescriptions import ROUTES
from service.knowledge.reading import (
    Problems,
    check_sources,
    read_yaml,
    strings,
    to_decimal,
    yaml_files,
)


def _amount(where: str, raw: Any, problems: Problems) -> Amount | None:
    """'40 mg' as an amount; units as in the prescriptions' dose units."""
    try:
        value, unit = str(raw).split()
        amount = Amount(value=to_decimal(value), unit=unit)
    except ValueError:
        problems.add(where, f"an amount is '<number> <unit>', not {raw!r}")
        return None
    if amount.value <= 0 or amount.unit not in LIMIT_UNITS:
        problems.add(where, f"{raw!r}: a positive amount in one of {', '.join(LIMIT_UNITS)}")
        return None
    return amount


LIMIT_UNITS = ("mg", "mcg", "g", "units", "mEq", "mmol", "mL")


def _impaired(
    where: str, raw: Mapping[str, Any], sources: Mapping[str, Source], problems: Problems
) -> ImpairedLimit | None:
    code = str(raw.get("condition"))
    if code not in (ConditionCode.HEPATIC_IMPAIRMENT, ConditionCode.RENAL_IMPAIRMENT):
        problems.add(where, f"an impaired limit is for hepatic or renal impairment, not {code!r}")
        return None
    amount = _amount(f"{where} {code}", raw.get("max_daily"), problems)
    egfr = raw.get("egfr_below")
    if amount is None:
        return None
    return ImpairedLimit(
        condition=code,
        child_pugh=frozenset(strings(raw.get("child_pugh"))),
        egfr_below=to_decimal(egfr) if egfr is not None else None,
        max_daily=amount,
        label_section=_label_section(where, raw, problems),
        sources=check_sources(where, strings(raw.get("sources")), sources, problems),
    )


def _label_section(where: str, raw: Mapping[str, Any], problems: Problems) -> str:
    section = str(raw.get("label_section") or "")
    if not section:
        problems.add(where, "missing label_section (the label section the figure is from)")
    return section


def read_limits(
    root: Path, drugs: Mapping[str, Drug], sources: Mapping[str, Source], problems: Problems
) -> dict[tuple[str, str], DoseLimit]:
    limits: dict[tuple[str, str], DoseLimit] = {}
    for path in yaml_files(root / "limits"):
        for body in (read_yaml(path) or {}).get("limits") or ():
            drug, route = str(body.get("drug")), str(body.get("route"))
            where = f"limits/{path.name}: {drug} {route}"
            if drug not in drugs:
                problems.add(where, f"unknown drug {drug!r}")
            if route not in ROUTES:
                problems.add(where, f"unknown route {route!r}")
            if (drug, route) in limits:
                problems.add(where, "duplicate limit")
            daily = _amount(where, body.get("max_daily"), problems)
            single = body.get("max_single")
            impaired = [_impaired(where, i, sources, problems) for i in body.get("impaired") or ()]
            if daily is None:
                continue
            limits[(drug, route)] = DoseLimit(
                drug=drug,
                route=route,
                max_daily=daily,
                max_single=_amount(where, single, problems) if single is not None else None,
                label_section=_label_section(where, body, problems),
                sources=check_sources(where, strings(body.get("sources")), sources, problems),
                impaired=tuple(i for i in impaired if i is not None),
            )
    return limits
