"""The rule files: drug-drug, cross-sensitivity, pregnancy, condition and age rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from service.domain.catalog import Drug, DrugClass, Source
from service.domain.conditions import CHILD_PUGH_CLASSES, ConditionCode
from service.domain.interactions import (
    AgeRule,
    ConditionRule,
    CrossSensitivity,
    Kind,
    PairRule,
    Rule,
    Selector,
)
from service.domain.severity import Severity
from service.knowledge.reading import (
    Problems,
    check_sources,
    read_yaml,
    strings,
    to_decimal,
    yaml_files,
)


def _selector(
    where: str,
    raw: Any,
    drugs: Mapping[str, Drug],
    classes: Mapping[str, DrugClass],
    problems: Problems,
) -> Selector:
    raw = raw or {}
    sel = Selector(
        drugs=frozenset(strings(raw.get("drugs"))), classes=frozenset(strings(raw.get("classes")))
    )
    for d in sorted(sel.drugs - drugs.keys()):
        problems.add(where, f"names unknown drug {d!r}")
    for c in sorted(sel.classes - classes.keys()):
        problems.add(where, f"names unknown class {c!r}")
    if not sel.drugs and not sel.classes:
        problems.add(where, "a side needs drugs or classes")
    return sel


def _rule_fields(
    where: str, body: Mapping[str, Any], sources: Mapping[str, Source], problems: Problems
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
        "sources": check_sources(where, strings(body.get("sources")), sources, problems),
    }


CONDITION_CODES = frozenset(c.value for c in ConditionCode)
R = TypeVar("R", bound=Rule)


@dataclass(frozen=True, kw_only=True)
class _Entry:
    """One rule as read, with what building it needs."""

    where: str
    body: Mapping[str, Any]
    common: dict[str, Any]
    drugs: Mapping[str, Drug]
    classes: Mapping[str, DrugClass]
    problems: Problems

    def side(self, key: str) -> Selector:
        """The drugs or classes the rule names under `key`."""
        return _selector(self.where, self.body.get(key), self.drugs, self.classes, self.problems)

    def explained(self, default: str) -> dict[str, Any]:
        """The common fields, with `default` as the mechanism where the rule gives none."""
        return {**self.common, "mechanism": self.common["mechanism"] or default}


def _drug_drug(entry: _Entry) -> PairRule:
    return PairRule(kind=Kind.DRUG_DRUG, a=entry.side("a"), b=entry.side("b"), **entry.common)


def _cross_sensitivity(entry: _Entry) -> CrossSensitivity:
    return CrossSensitivity(
        kind=Kind.ALLERGY,
        allergen=entry.side("allergen"),
        drug=entry.side("drug"),
        **entry.explained("Documented cross-sensitivity between allergen classes."),
    )


def _pregnancy(entry: _Entry) -> ConditionRule:
    return ConditionRule(
        kind=Kind.CONDITION,
        condition=ConditionCode.PREGNANCY.value,
        drugs=entry.side("drugs"),
        **entry.explained("Risk to the embryo or fetus."),
    )


def _condition(entry: _Entry) -> ConditionRule:
    drugs = entry.side("drugs")
    where, body, problems = entry.where, entry.body, entry.problems
    code = str(body.get("condition"))
    if code not in CONDITION_CODES:
        problems.add(where, f"unknown condition {code!r}")
    child_pugh = frozenset(strings(body.get("child_pugh")))
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
        drugs=drugs,
        child_pugh=child_pugh,
        egfr_below=to_decimal(egfr) if egfr is not None else None,
        **entry.explained(f"A precaution in {code}."),
    )


def _age(entry: _Entry) -> AgeRule:
    return AgeRule(
        kind=Kind.AGE,
        drugs=entry.side("drugs"),
        min_age=int(entry.body.get("min_age", 65)),
        **entry.explained("Potentially inappropriate in older adults."),
    )


# Each section of a rule file, and how a rule of it is built.
_BUILDERS: dict[str, Callable[[_Entry], Rule]] = {
    "drug_drug": _drug_drug,
    "cross_sensitivity": _cross_sensitivity,
    "pregnancy": _pregnancy,
    "conditions": _condition,
    "age": _age,
}
RULE_SECTIONS = tuple(_BUILDERS)


def read_rules(
    root: Path,
    drugs: Mapping[str, Drug],
    classes: Mapping[str, DrugClass],
    sources: Mapping[str, Source],
    problems: Problems,
) -> list[Rule]:
    """Every rule of every file, in file order. A rule of an unknown section is still
    checked (its id and common fields), so that one load reports all its problems."""
    rules: list[Rule] = []
    seen: set[str] = set()
    for path in yaml_files(root / "rules"):
        doc = read_yaml(path) or {}
        for section in doc:
            if section not in _BUILDERS:
                problems.add(f"rules/{path.name}", f"unknown section {section!r}")
        for section, body in ((s, b) for s in doc for b in doc[s] or ()):
            where = f"rules/{path.name}: {body.get('id', '?')}"
            if body.get("id") in seen or not body.get("id"):
                problems.add(where, "missing or duplicate rule id")
                continue
            seen.add(body["id"])
            common = _rule_fields(where, body, sources, problems)
            entry = _Entry(
                where=where,
                body=body,
                common=common,
                drugs=drugs,
                classes=classes,
                problems=problems,
            )
            build = _BUILDERS.get(section)
            if build is not None:
                rules.append(build(entry))
    return rules


def of_type(rules: Iterable[Rule], kind: type[R]) -> tuple[R, ...]:
    """The rules of one type, in the order read."""
    return tuple(r for r in rules if isinstance(r, kind))
