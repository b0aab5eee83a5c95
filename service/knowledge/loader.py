"""Load and validate the curated knowledge base shipped in `data/`.

Validation is strict and reports every problem at once, each with its file and
entry: an unknown class, a duplicate name, or a rule that names an unknown drug,
class or source stops the load.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from service.domain.catalog import (
    Catalog,
    Drug,
    DrugClass,
    Formulation,
    Occupancy,
    OccupancyAnchor,
    Product,
    Source,
    normalize,
)
from service.domain.conditions import CHILD_PUGH_CLASSES, ConditionCode
from service.domain.dosing import Amount, DoseLimit, ImpairedLimit
from service.domain.interactions import (
    AgeRule,
    ConditionRule,
    CrossSensitivity,
    Kind,
    KnowledgeBase,
    PairRule,
    Selector,
)
from service.domain.prescriptions import ROUTES
from service.domain.severity import Severity

DATA = Path(__file__).parent / "data"

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


class KnowledgeBaseError(ValueError):
    """The data files are inconsistent; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid knowledge base:\n  " + "\n  ".join(problems))


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 (a safe loader)


def _yaml_files(folder: Path) -> Iterator[Path]:
    yield from sorted(folder.glob("*.yaml"))


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def _sources(root: Path, problems: _Problems) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for path in _yaml_files(root / "sources"):
        for sid, body in (_read(path) or {}).items():
            where = f"sources/{path.name}: {sid}"
            if sid in sources:
                problems.add(where, "duplicate source id")
            elif not isinstance(body, Mapping) or not body.get("citation"):
                problems.add(where, "a source needs a citation")
            else:
                sources[sid] = Source(id=sid, citation=body["citation"], url=body.get("url"))
    return sources


def _check_sources(
    where: str, ids: Iterable[str], sources: Mapping[str, Source], problems: _Problems
) -> tuple[str, ...]:
    ids = tuple(ids)
    if not ids:
        problems.add(where, "no sources")
    for sid in ids:
        if sid not in sources:
            problems.add(where, f"unknown source {sid!r}")
    return ids


def _class_files(root: Path) -> Iterator[tuple[str, Any]]:
    """classes.yaml, then each file of classes/ (new classes, and members added to any)."""
    yield "classes.yaml", _read(root / "classes.yaml")
    for path in _yaml_files(root / "classes"):
        yield f"classes/{path.name}", _read(path) or {}


def _classes(
    root: Path, sources: Mapping[str, Source], problems: _Problems
) -> tuple[dict[str, DrugClass], dict[str, set[str]]]:
    classes: dict[str, DrugClass] = {}
    members: dict[str, set[str]] = {}
    added: list[tuple[str, str, set[str]]] = []
    for name, doc in _class_files(root):
        for cid, body in (doc.get("classes") or {}).items():
            where = f"{name}: {cid}"
            if cid in classes:
                problems.add(where, "duplicate class id")
                continue
            dup = body.get("duplicate")
            if dup is not None and dup not in set(Severity):
                problems.add(where, f"unknown duplicate severity {dup!r}")
                dup = None
            classes[cid] = DrugClass(
                id=cid,
                name=body["name"],
                implies=_tuple(body.get("implies")),
                duplicate=Severity(dup) if dup else None,
                allergen=bool(body.get("allergen", False)),
                aliases=_tuple(body.get("aliases")),
                sources=_check_sources(where, _tuple(body.get("sources")), sources, problems),
            )
            members[cid] = set(_tuple(body.get("members")))
        for cid, ids in (doc.get("members") or {}).items():
            added.append((f"{name}: members of {cid}", str(cid), set(_tuple(ids))))
    for where, cid, ids in added:
        if cid not in classes:
            problems.add(where, f"unknown class {cid!r}")
        else:
            members[cid] |= ids
    for c in classes.values():
        for implied in c.implies:
            if implied not in classes:
                problems.add(f"classes.yaml: {c.id}", f"implies unknown class {implied!r}")
    return classes, members


def _closure(own: Iterable[str], classes: Mapping[str, DrugClass]) -> frozenset[str]:
    seen: set[str] = set()
    stack = [c for c in own if c in classes]
    while stack:
        c = stack.pop()
        if c not in seen:
            seen.add(c)
            stack.extend(i for i in classes[c].implies if i in classes)
    return frozenset(seen)


def _formulations(where: str, raw: Any, problems: _Problems) -> tuple[Formulation, ...]:
    out: list[Formulation] = []
    for f in raw or ():
        if f.get("form") not in FORMS:
            problems.add(where, f"unknown formulation form {f.get('form')!r}")
        if f.get("unit") not in UNITS:
            problems.add(where, f"unknown formulation unit {f.get('unit')!r}")
        try:
            strengths = tuple(_decimal(s) for s in f.get("strengths") or ())
        except ValueError as exc:
            problems.add(where, str(exc))
            continue
        if not strengths or any(s <= 0 for s in strengths):
            problems.add(where, "a formulation needs positive strengths")
        out.append(
            Formulation(
                form=str(f.get("form")),
                strengths=strengths,
                unit=str(f.get("unit")),
                scored=bool(f.get("scored", False)),
            )
        )
    return tuple(out)


# How far, in percentage points, the model may pass from a published anchor.
OCCUPANCY_TOLERANCE_PCT = Decimal("0.5")


def _occupancy(
    where: str, raw: Any, sources: Mapping[str, Source], problems: _Problems
) -> Occupancy | None:
    if not raw:
        return None
    where = f"{where} occupancy"
    try:
        anchors = tuple(
            OccupancyAnchor(
                dose_mg=_decimal(a["dose_mg"]),
                occupancy_pct=_decimal(a["occupancy_pct"]),
                source=str(a.get("source", "")),
            )
            for a in raw.get("anchors") or ()
        )
        model = Occupancy(
            target=str(raw["target"]),
            emax_pct=_decimal(raw["emax_pct"]),
            ed50_mg=_decimal(raw["ed50_mg"]),
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
    _check_sources(where, (a.source for a in anchors), sources, problems)
    for a in anchors:
        off = abs(model.at(a.dose_mg) - a.occupancy_pct)
        if off > OCCUPANCY_TOLERANCE_PCT:
            problems.add(
                where,
                f"the model gives {model.at(a.dose_mg):.1f}% at {a.dose_mg} mg, "
                f"{off:.1f} points from the anchor's {a.occupancy_pct}%",
            )
    return model


def _drugs(
    root: Path,
    classes: Mapping[str, DrugClass],
    members: Mapping[str, set[str]],
    sources: Mapping[str, Source],
    problems: _Problems,
) -> tuple[dict[str, Drug], dict[str, str]]:
    """The ingredients, and the file each was read from."""
    extra: dict[str, set[str]] = {}
    files: dict[str, str] = {}
    for cid, ids in members.items():
        for did in ids:
            extra.setdefault(did, set()).add(cid)
    drugs: dict[str, Drug] = {}
    for path in _yaml_files(root / "drugs"):
        for body in _read(path) or ():
            did = str(body.get("id", ""))
            where = f"drugs/{path.name}: {did or '?'}"
            if not did or did in drugs:
                problems.add(where, "missing or duplicate drug id")
                continue
            files[did] = f"drugs/{path.name}"
            own = _tuple(body.get("classes"))
            if not own:
                problems.add(where, "a drug needs at least one class")
            for cid in own:
                if cid not in classes:
                    problems.add(where, f"unknown class {cid!r}")
            drugs[did] = Drug(
                id=did,
                name=str(body.get("name") or did),
                atc=body.get("atc"),
                brands=_tuple(body.get("brands")),
                synonyms=_tuple(body.get("synonyms")),
                own_classes=own,
                classes=_closure((*own, *extra.get(did, ())), classes),
                withdrawal_risk=body.get("withdrawal_risk"),
                formulations=_formulations(where, body.get("formulations"), problems),
                occupancy=_occupancy(where, body.get("occupancy"), sources, problems),
            )
    for cid, ids in members.items():
        for did in sorted(ids - drugs.keys()):
            problems.add(f"classes.yaml: {cid}", f"member {did!r} is not in the catalog")
    return drugs, files


def _products(root: Path, drugs: Mapping[str, Drug], problems: _Problems) -> dict[str, Product]:
    products: dict[str, Product] = {}
    for body in _read(root / "products.yaml") or ():
        pid = str(body.get("id", ""))
        where = f"products.yaml: {pid or '?'}"
        ingredients = _tuple(body.get("ingredients"))
        if not pid or pid in products or pid in drugs:
            problems.add(where, "missing or duplicate product id")
            continue
        if len(ingredients) < 2:
            problems.add(where, "a combination product needs at least two ingredients")
        for i in ingredients:
            if i not in drugs:
                problems.add(where, f"unknown ingredient {i!r}")
        products[pid] = Product(
            id=pid,
            name=str(body.get("name") or pid),
            atc=body.get("atc"),
            brands=_tuple(body.get("brands")),
            synonyms=_tuple(body.get("synonyms")),
            ingredients=ingredients,
        )
    return products


def _check_names(
    drugs: Mapping[str, Drug],
    products: Mapping[str, Product],
    files: Mapping[str, str],
    problems: _Problems,
) -> None:
    owner: dict[str, str] = {}
    entries: list[tuple[str, tuple[str, ...]]] = [
        (d.id, (d.id, d.name, *d.brands, *d.synonyms)) for d in drugs.values()
    ] + [(p.id, (p.id, p.name, *p.brands, *p.synonyms)) for p in products.values()]
    for entry_id, names in entries:
        for name in dict.fromkeys(normalize(n) for n in names):
            other = owner.setdefault(name, entry_id)
            if other != entry_id:
                problems.add(
                    f"{files.get(entry_id, 'products.yaml')}: {entry_id}",
                    f"name {name!r} is also a name of {other!r}",
                )


def _selector(
    where: str,
    raw: Any,
    drugs: Mapping[str, Drug],
    classes: Mapping[str, DrugClass],
    problems: _Problems,
) -> Selector:
    raw = raw or {}
    sel = Selector(
        drugs=frozenset(_tuple(raw.get("drugs"))), classes=frozenset(_tuple(raw.get("classes")))
    )
    for d in sorted(sel.drugs - drugs.keys()):
        problems.add(where, f"names unknown drug {d!r}")
    for c in sorted(sel.classes - classes.keys()):
        problems.add(where, f"names unknown class {c!r}")
    if not sel.drugs and not sel.classes:
        problems.add(where, "a side needs drugs or classes")
    return sel


def _rule_fields(
    where: str, body: Mapping[str, Any], sources: Mapping[str, Source], problems: _Problems
) -> dict[str, Any]:
    severity = str(body.get("severity"))
    if severity not in set(Severity):
        problems.add(where, f"unknown severity {severity!r}")
        severity = Severity.MINOR.value
    for key in ("effect", "management"):
        if not body.get(key):
            problems.add(where, f"missing {key}")
    return {
        "id": str(body["id"]),
        "severity": Severity(severity),
        "mechanism": str(body.get("mechanism") or ""),
        "effect": str(body.get("effect") or ""),
        "management": str(body.get("management") or ""),
        "sources": _check_sources(where, _tuple(body.get("sources")), sources, problems),
    }


RULE_SECTIONS = ("drug_drug", "cross_sensitivity", "pregnancy", "conditions", "age")
CONDITION_CODES = frozenset(c.value for c in ConditionCode)


def _condition_rule(
    where: str,
    body: Mapping[str, Any],
    drugs_sel: Selector,
    common: dict[str, Any],
    problems: _Problems,
) -> ConditionRule:
    code = str(body.get("condition"))
    if code not in CONDITION_CODES:
        problems.add(where, f"unknown condition {code!r}")
    child_pugh = frozenset(_tuple(body.get("child_pugh")))
    for c in sorted(child_pugh - set(CHILD_PUGH_CLASSES)):
        problems.add(where, f"unknown Child-Pugh class {c!r}")
    if child_pugh and code != ConditionCode.HEPATIC_IMPAIRMENT:
        problems.add(where, "child_pugh is for hepatic-impairment rules")
    egfr = body.get("egfr_below")
    if egfr is not None and code != ConditionCode.RENAL_IMPAIRMENT:
        problems.add(where, "egfr_below is for renal-impairment rules")
    return ConditionRule(
        kind=Kind.CONDITION,
        condition=code,
        drugs=drugs_sel,
        child_pugh=child_pugh,
        egfr_below=_decimal(egfr) if egfr is not None else None,
        **{**common, "mechanism": common["mechanism"] or f"A precaution in {code}."},
    )


def _rules(
    root: Path,
    drugs: Mapping[str, Drug],
    classes: Mapping[str, DrugClass],
    sources: Mapping[str, Source],
    problems: _Problems,
) -> tuple[list[PairRule], list[CrossSensitivity], list[ConditionRule], list[AgeRule]]:
    pairs: list[PairRule] = []
    cross: list[CrossSensitivity] = []
    conditions: list[ConditionRule] = []
    ages: list[AgeRule] = []
    seen: set[str] = set()
    for path in _yaml_files(root / "rules"):
        doc = _read(path) or {}
        for section in doc:
            if section not in RULE_SECTIONS:
                problems.add(f"rules/{path.name}", f"unknown section {section!r}")
        for section, body in ((s, b) for s in doc for b in doc[s] or ()):
            where = f"rules/{path.name}: {body.get('id', '?')}"
            if body.get("id") in seen or not body.get("id"):
                problems.add(where, "missing or duplicate rule id")
                continue
            seen.add(body["id"])
            common = _rule_fields(where, body, sources, problems)
            if section == "drug_drug":
                pairs.append(
                    PairRule(
                        kind=Kind.DRUG_DRUG,
                        a=_selector(where, body.get("a"), drugs, classes, problems),
                        b=_selector(where, body.get("b"), drugs, classes, problems),
                        **common,
                    )
                )
            elif section == "cross_sensitivity":
                cross.append(
                    CrossSensitivity(
                        kind=Kind.ALLERGY,
                        allergen=_selector(where, body.get("allergen"), drugs, classes, problems),
                        drug=_selector(where, body.get("drug"), drugs, classes, problems),
                        **{
                            **common,
                            "mechanism": common["mechanism"]
                            or "Documented cross-sensitivity between allergen classes.",
                        },
                    )
                )
            elif section == "pregnancy":
                conditions.append(
                    ConditionRule(
                        kind=Kind.CONDITION,
                        condition="pregnancy",
                        drugs=_selector(where, body.get("drugs"), drugs, classes, problems),
                        **{
                            **common,
                            "mechanism": common["mechanism"] or "Risk to the embryo or fetus.",
                        },
                    )
                )
            elif section == "conditions":
                sel = _selector(where, body.get("drugs"), drugs, classes, problems)
                conditions.append(_condition_rule(where, body, sel, common, problems))
            elif section == "age":
                ages.append(
                    AgeRule(
                        kind=Kind.AGE,
                        drugs=_selector(where, body.get("drugs"), drugs, classes, problems),
                        min_age=int(body.get("min_age", 65)),
                        **{
                            **common,
                            "mechanism": common["mechanism"]
                            or "Potentially inappropriate in older adults.",
                        },
                    )
                )
    return pairs, cross, conditions, ages


def _amount(where: str, raw: Any, problems: _Problems) -> Amount | None:
    """'40 mg' as an amount; units as in the prescriptions' dose units."""
    try:
        value, unit = str(raw).split()
        amount = Amount(value=_decimal(value), unit=unit)
    except ValueError:
        problems.add(where, f"an amount is '<number> <unit>', not {raw!r}")
        return None
    if amount.value <= 0 or amount.unit not in LIMIT_UNITS:
        problems.add(where, f"{raw!r}: a positive amount in one of {', '.join(LIMIT_UNITS)}")
        return None
    return amount


LIMIT_UNITS = ("mg", "mcg", "g", "units", "mEq", "mmol", "mL")


def _impaired(
    where: str, raw: Mapping[str, Any], sources: Mapping[str, Source], problems: _Problems
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
        child_pugh=frozenset(_tuple(raw.get("child_pugh"))),
        egfr_below=_decimal(egfr) if egfr is not None else None,
        max_daily=amount,
        label_section=_label_section(where, raw, problems),
        sources=_check_sources(where, _tuple(raw.get("sources")), sources, problems),
    )


def _label_section(where: str, raw: Mapping[str, Any], problems: _Problems) -> str:
    section = str(raw.get("label_section") or "")
    if not section:
        problems.add(where, "missing label_section (the label section the figure is from)")
    return section


def _limits(
    root: Path, drugs: Mapping[str, Drug], sources: Mapping[str, Source], problems: _Problems
) -> dict[tuple[str, str], DoseLimit]:
    limits: dict[tuple[str, str], DoseLimit] = {}
    for path in _yaml_files(root / "limits"):
        for body in (_read(path) or {}).get("limits") or ():
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
                sources=_check_sources(where, _tuple(body.get("sources")), sources, problems),
                impaired=tuple(i for i in impaired if i is not None),
            )
    return limits


def load_from(root: Path) -> KnowledgeBase:
    """Read and validate a knowledge-base folder; raise KnowledgeBaseError listing every problem."""
    problems = _Problems()
    version = (root / "VERSION").read_text(encoding="utf-8").strip()
    sources = _sources(root, problems)
    classes, members = _classes(root, sources, problems)
    drugs, files = _drugs(root, classes, members, sources, problems)
    products = _products(root, drugs, problems)
    _check_names(drugs, products, files, problems)
    pairs, cross, conditions, ages = _rules(root, drugs, classes, sources, problems)
    limits = _limits(root, drugs, sources, problems)
    if problems.items:
        raise KnowledgeBaseError(problems.items)
    catalog = Catalog(drugs=drugs, products=products, classes=classes, sources=sources)
    return KnowledgeBase(
        version=version,
        catalog=catalog,
        pair_rules=tuple(pairs),
        cross_sensitivities=tuple(cross),
        condition_rules=tuple(conditions),
        age_rules=tuple(ages),
        dose_limits=limits,
    )


@functools.cache
def load() -> KnowledgeBase:
    """The shipped knowledge base, read once per process."""
    return load_from(DATA)
