"""A drug's formulations, its receptor-occupancy model and its taper floor, as the drug
files give them."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from service.domain.catalog import Formulation, Occupancy, OccupancyAnchor, Source
from service.knowledge.reading import Problems, check_sources, to_decimal

# The forms a pharmacy dispenses by the bottle (docs/clinical.md, "Bottle sizes").
BOTTLED_FORMS = frozenset(["oral-solution", "oral-suspension", "oral-concentrate"])

FORMS = frozenset(
    [
        "tablet",
        "tablet-er",
        "tablet-odt",
        "capsule",
        "capsule-er",
        "oral-solution",
        "oral-suspension",
        "oral-concentrate",
        "injection",
        "patch",
        "inhaler",
        "nebulizer-solution",
        "nasal-spray",
        "cream",
        "ointment",
        "gel",
        "eye-drops",
        "suppository",
        "powder",
        "film",
        "implant",
        "ring",
    ]
)
UNITS = frozenset(
    [
        "mg",
        "mcg",
        "g",
        "units",
        "mg/mL",
        "mcg/mL",
        "units/mL",
        "mcg/h",
        "mg/24h",
        "mcg/actuation",
        "mg/actuation",
        "%",
        "mEq",
        "mmol",
    ]
)


def read_formulations(
    where: str,
    raw: Any,
    problems: Problems,
    sources: Mapping[str, Source] | None = None,
) -> tuple[Formulation, ...]:
    """A drug's formulations. A bottle source is checked against `sources` when they
    are given; without them only its presence is."""
    out: list[Formulation] = []
    for f in raw or ():
        if f.get("form") not in FORMS:
            problems.add(where, f"unknown formulation form {f.get('form')!r}")
        if f.get("unit") not in UNITS:
            problems.add(where, f"unknown formulation unit {f.get('unit')!r}")
        try:
            strengths = tuple(to_decimal(s) for s in f.get("strengths") or ())
        except ValueError as exc:
            problems.add(where, str(exc))
            continue
        if not strengths or any(s <= 0 for s in strengths):
            problems.add(where, "a formulation needs positive strengths")
        bottles, bottles_source = read_bottles(where, f, sources, problems)
        out.append(
            Formulation(
                form=str(f.get("form")),
                strengths=strengths,
                unit=str(f.get("unit")),
                scored=bool(f.get("scored", False)),
                bottles_ml=bottles,
                bottles_source=bottles_source,
            )
        )
    return tuple(out)


def read_bottles(
    where: str, f: Mapping[str, Any], sources: Mapping[str, Source] | None, problems: Problems
) -> tuple[tuple[Decimal, ...], str | None]:
    """`bottles_ml: [<mL>, ...]` with `bottles_source: <source id>`: the bottle volumes a
    liquid is dispensed in, ascending, and the label or pack listing that gives them.
    Either key without the other is refused: a size is never shipped without its source."""
    raw, source = f.get("bottles_ml"), f.get("bottles_source")
    if raw is None and source is None:
        return (), None
    where = f"{where} {f.get('form')} bottles"
    if f.get("form") not in BOTTLED_FORMS:
        problems.add(where, "only an oral solution, suspension or concentrate comes in bottles")
        return (), None
    if not raw:
        problems.add(where, "a bottles_source needs bottles_ml (the bottle volumes in mL)")
        return (), None
    if not isinstance(source, str) or not source:
        problems.add(where, "bottles_ml need a bottles_source (a source id)")
        return (), None
    if sources is not None:
        check_sources(where, (source,), sources, problems)
    sizes = _bottle_sizes(where, raw, problems)
    return (sizes, source) if sizes else ((), None)


def _bottle_sizes(where: str, raw: Any, problems: Problems) -> tuple[Decimal, ...]:
    """Positive, finite, distinct volumes in mL, sorted; nothing when any is not."""
    if not isinstance(raw, list):
        problems.add(where, f"bottles_ml must be a list of volumes in mL, not {raw!r}")
        return ()
    sizes: list[Decimal] = []
    for value in raw:
        size = _volume(value)
        if size is None:
            problems.add(where, f"a bottle volume must be a positive number of mL, not {value!r}")
            return ()
        sizes.append(size)
    if len(set(sizes)) != len(sizes):
        problems.add(where, f"bottles_ml lists a volume twice: {raw!r}")
        return ()
    return tuple(sorted(sizes))


def _volume(value: Any) -> Decimal | None:
    """A YAML number (not a string, not a boolean) as a positive, finite Decimal, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    size = to_decimal(value)
    return size if size.is_finite() and size > 0 else None


# How far, in percentage points, the model may pass from a published anchor.
OCCUPANCY_TOLERANCE_PCT = Decimal("0.5")


def read_occupancy(
    where: str, raw: Any, sources: Mapping[str, Source], problems: Problems
) -> Occupancy | None:
    if not raw:
        return None
    where = f"{where} occupancy"
    try:
        anchors = tuple(
            OccupancyAnchor(
                dose_mg=to_decimal(a["dose_mg"]),
                occupancy_pct=to_decimal(a["occupancy_pct"]),
                source=str(a.get("source", "")),
            )
            for a in raw.get("anchors") or ()
        )
        model = Occupancy(
            target=str(raw["target"]),
            emax_pct=to_decimal(raw["emax_pct"]),
            ed50_mg=to_decimal(raw["ed50_mg"]),
            anchors=anchors,
            derivation=str(raw.get("derivation") or ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        problems.add(where, f"malformed: {exc}")
        return None
    if not model.derivation:
        problems.add(where, "no derivation")
    if not 0 < model.emax_pct <= 100 or model.ed50_mg <= 0:
        problems.add(where, "emax_pct must be in (0, 100] and ed50_mg positive")
        return None
    if len(anchors) < 2:
        problems.add(where, "needs at least two published anchors")
    check_sources(where, (a.source for a in anchors), sources, problems)
    for a in anchors:
        off = abs(model.at(a.dose_mg) - a.occupancy_pct)
        if off > OCCUPANCY_TOLERANCE_PCT:
            problems.add(
                where,
                f"the model gives {model.at(a.dose_mg):.1f}% at {a.dose_mg} mg, "
                f"{off:.1f} points from the anchor's {a.occupancy_pct}%",
            )
    return model


def read_taper_floor(
    where: str, raw: Any, sources: Mapping[str, Source], problems: Problems
) -> tuple[Decimal | None, str | None]:
    """`taper_floor: {mg, source}`: a positive, finite daily dose and the source giving it."""
    if raw is None:
        return None, None
    where = f"{where} taper_floor"
    if not isinstance(raw, Mapping) or set(raw) != {"mg", "source"}:
        problems.add(where, "give exactly {mg: <daily dose>, source: <source id>}")
        return None, None
    try:
        mg = to_decimal(raw["mg"])
    except ValueError as exc:
        problems.add(where, str(exc))
        return None, None
    if isinstance(raw["mg"], bool) or not mg.is_finite() or mg <= 0:
        problems.add(where, f"mg must be a positive number, not {raw['mg']!r}")
        return None, None
    source = str(raw["source"] or "")
    check_sources(where, (source,) if source else (), sources, problems)
    return mg, source
