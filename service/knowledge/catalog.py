"""The catalog's files: sources, classes (and the members other files add to them),
ingredients and combination products, and the names they go by."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from service.domain.catalog import (
    Drug,
    DrugClass,
    MissedDoseAdvice,
    Product,
    Source,
    normalize,
)
from service.domain.severity import Severity
from service.knowledge.formulations import read_formulations, read_occupancy, read_taper_floor
from service.knowledge.reading import Problems, check_sources, read_yaml, strings, yaml_files


def read_sources(root: Path, problems: Problems) -> dict[str, Source]:
    sources: dict[str, Source] = {}
    for path in yaml_files(root / "sources"):
        for sid, body in (read_yaml(path) or {}).items():
            where = f"sources/{path.name}: {sid}"
            if sid in sources:
                problems.add(where, "duplicate source id")
            elif not isinstance(body, Mapping) or not body.get("citation"):
                problems.add(where, "a source needs a citation")
            else:
                sources[sid] = Source(id=sid, citation=body["citation"], url=body.get("url"))
    return sources


def _class_files(root: Path) -> Iterator[tuple[str, Any]]:
    """classes.yaml, then each file of classes/ (new classes, and members added to any)."""
    yield "classes.yaml", read_yaml(root / "classes.yaml")
    for path in yaml_files(root / "classes"):
        yield f"classes/{path.name}", read_yaml(path) or {}


def read_classes(
    root: Path, sources: Mapping[str, Source], problems: Problems
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
                implies=strings(body.get("implies")),
                duplicate=Severity(dup) if dup else None,
                allergen=bool(body.get("allergen", False)),
                aliases=strings(body.get("aliases")),
                sources=check_sources(where, strings(body.get("sources")), sources, problems),
            )
            members[cid] = set(strings(body.get("members")))
        for cid, ids in (doc.get("members") or {}).items():
            added.append((f"{name}: members of {cid}", str(cid), set(strings(ids))))
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


def read_drugs(
    root: Path,
    classes: Mapping[str, DrugClass],
    members: Mapping[str, set[str]],
    sources: Mapping[str, Source],
    problems: Problems,
) -> tuple[dict[str, Drug], dict[str, str]]:
    """The ingredients, and the file each was read from."""
    extra: dict[str, set[str]] = {}
    files: dict[str, str] = {}
    for cid, ids in members.items():
        for did in ids:
            extra.setdefault(did, set()).add(cid)
    drugs: dict[str, Drug] = {}
    for path in yaml_files(root / "drugs"):
        for body in read_yaml(path) or ():
            did = str(body.get("id", ""))
            where = f"drugs/{path.name}: {did or '?'}"
            if not did or did in drugs:
                problems.add(where, "missing or duplicate drug id")
                continue
            files[did] = f"drugs/{path.name}"
            own = strings(body.get("classes"))
            if not own:
                problems.add(where, "a drug needs at least one class")
            for cid in own:
                if cid not in classes:
                    problems.add(where, f"unknown class {cid!r}")
            floor_mg, floor_source = read_taper_floor(
                where, body.get("taper_floor"), sources, problems
            )
            drugs[did] = Drug(
                id=did,
                name=str(body.get("name") or did),
                atc=body.get("atc"),
                brands=strings(body.get("brands")),
                synonyms=strings(body.get("synonyms")),
                own_classes=own,
                classes=_closure((*own, *extra.get(did, ())), classes),
                withdrawal_risk=body.get("withdrawal_risk"),
                formulations=read_formulations(where, body.get("formulations"), problems, sources),
                occupancy=read_occupancy(where, body.get("occupancy"), sources, problems),
                taper_floor_mg=floor_mg,
                taper_floor_source=floor_source,
                missed_dose=read_missed_dose(where, body.get("missed_dose"), sources, problems),
            )
    for cid, ids in members.items():
        for did in sorted(ids - drugs.keys()):
            problems.add(f"classes.yaml: {cid}", f"member {did!r} is not in the catalog")
    return drugs, files


def read_missed_dose(
    where: str, raw: Any, sources: Mapping[str, Source], problems: Problems
) -> MissedDoseAdvice | None:
    """`missed_dose: {text, source}`: the label's missed-dose advice in our words, and
    the id of the source (the product label or patient leaflet) it comes from."""
    if raw is None:
        return None
    where = f"{where} missed_dose"
    if not isinstance(raw, Mapping) or set(raw) != {"text", "source"}:
        problems.add(where, "give exactly {text: <advice>, source: <source id>}")
        return None
    text, source = str(raw["text"] or "").strip(), str(raw["source"] or "")
    if not text or not source:
        problems.add(where, "the advice needs a text and a source")
        return None
    check_sources(where, (source,), sources, problems)
    return MissedDoseAdvice(text=text, source=source)


def read_products(root: Path, drugs: Mapping[str, Drug], problems: Problems) -> dict[str, Product]:
    products: dict[str, Product] = {}
    for body in read_yaml(root / "products.yaml") or ():
        pid = str(body.get("id", ""))
        where = f"products.yaml: {pid or '?'}"
        ingredients = strings(body.get("ingredients"))
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
            brands=strings(body.get("brands")),
            synonyms=strings(body.get("synonyms")),
            ingredients=ingredients,
        )
    return products


def check_names(
    drugs: Mapping[str, Drug],
    products: Mapping[str, Product],
    files: Mapping[str, str],
    problems: Problems,
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
