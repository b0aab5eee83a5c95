"""The drug catalog: ingredients, combination products, classes, and name resolution.

Resolution is what a clinician's free text goes through before any check:
"Lexapro", "diazepam 5 mg tablet", "Percocet 5/325" and "oxycodone/acetaminophen"
all become ingredient ids. Nothing is silently dropped: a name that does not
resolve comes back unresolved, with suggestions when it looks like a misspelling.
The words a name may carry around it (strength, form, salt) are `drug_text`'s.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from service.domain.drug_text import combination_parts, lookup_forms, normalize
from service.domain.severity import Severity

__all__ = [
    "Catalog",
    "Drug",
    "DrugClass",
    "Formulation",
    "Occupancy",
    "OccupancyAnchor",
    "Product",
    "Resolved",
    "Source",
    "Suggestion",
    "Unresolved",
    "normalize",
]


@dataclass(frozen=True, kw_only=True)
class Source:
    id: str
    citation: str
    url: str | None


@dataclass(frozen=True, kw_only=True)
class DrugClass:
    id: str
    name: str
    implies: tuple[str, ...] = ()
    duplicate: Severity | None = None
    allergen: bool = False
    aliases: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Formulation:
    """A product form and its strengths. A liquid may list the bottle volumes (mL,
    ascending) it is dispensed in and the source that gives them, so that a dispensing
    table rounds a liquid up to whole bottles (docs/clinical.md, "Bottle sizes")."""

    form: str
    strengths: tuple[Decimal, ...]
    unit: str
    scored: bool = False
    bottles_ml: tuple[Decimal, ...] = ()
    bottles_source: str | None = None


@dataclass(frozen=True, kw_only=True)
class OccupancyAnchor:
    """A published figure the occupancy model is fitted through."""

    dose_mg: Decimal
    occupancy_pct: Decimal
    source: str


@dataclass(frozen=True, kw_only=True)
class Occupancy:
    """Receptor or transporter occupancy model: occupancy(d) = emax * d / (ed50 + d).

    `anchors` are the published (daily dose, occupancy) figures the parameters
    were fitted through; `derivation` says how, in words a reviewer can check.
    """

    target: str
    emax_pct: Decimal
    ed50_mg: Decimal
    anchors: tuple[OccupancyAnchor, ...]
    derivation: str

    def at(self, dose_mg: Decimal) -> Decimal:
        """Occupancy in percent at a daily dose."""
        if dose_mg <= 0:
            return Decimal(0)
        return self.emax_pct * dose_mg / (self.ed50_mg + dose_mg)

    def dose_for(self, occupancy_pct: Decimal) -> Decimal:
        """The daily dose giving this occupancy (the inverse of `at`), below emax."""
        if occupancy_pct <= 0:
            return Decimal(0)
        if occupancy_pct >= self.emax_pct:
            raise ValueError("occupancy at or above emax has no finite dose")
        return self.ed50_mg * occupancy_pct / (self.emax_pct - occupancy_pct)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.source for a in self.anchors))


@dataclass(frozen=True, kw_only=True)
class Drug:
    """One ingredient (the active moiety; salts resolve to it)."""

    id: str
    name: str
    atc: str | None
    brands: tuple[str, ...]
    synonyms: tuple[str, ...]
    own_classes: tuple[str, ...]
    classes: frozenset[str]
    withdrawal_risk: str | None
    formulations: tuple[Formulation, ...]
    occupancy: Occupancy | None = None
    # The daily dose from at or below which a taper's final step to zero is expected
    # rather than flagged, and the source giving it (docs/clinical.md, "Catalog").
    # None where no source gives one: the planner then uses 0.
    taper_floor_mg: Decimal | None = None
    taper_floor_source: str | None = None
    # None where no label source was found: the patient is told to ask a pharmacist.
    missed_dose: MissedDoseAdvice | None = None
    # The RxNorm concept (RxCUI) of the ingredient, where a public source confirms it
    # (service/knowledge/data/codes/); None otherwise, and the drug is coded by ATC and text.
    rxcui: str | None = None


@dataclass(frozen=True, kw_only=True)
class MissedDoseAdvice:
    """What the label tells a patient to do about a missed dose, in our words, and
    the id of the source it comes from (docs/clinical.md, "Missed doses")."""

    text: str
    source: str


@dataclass(frozen=True, kw_only=True)
class Product:
    """A combination product; it resolves to every ingredient."""

    id: str
    name: str
    atc: str | None
    brands: tuple[str, ...]
    synonyms: tuple[str, ...]
    ingredients: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Resolved:
    """A name as entered and what it resolved to."""

    input: str
    entry_id: str
    name: str
    ingredients: tuple[str, ...]
    in_catalog: bool = True


@dataclass(frozen=True, kw_only=True)
class Suggestion:
    """A catalog entry a misspelt or partial name may mean, and the name it matched."""

    drug_id: str
    name: str
    matched_on: str


@dataclass(frozen=True, kw_only=True)
class Unresolved:
    input: str
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True, eq=False)
class Catalog:
    """Ingredients, products and classes, with a case-insensitive name index."""

    drugs: Mapping[str, Drug]
    products: Mapping[str, Product]
    classes: Mapping[str, DrugClass]
    sources: Mapping[str, Source]
    _names: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _class_names: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _rxcui: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    _atc: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    def withdrawal_risks(self, ingredients: Iterable[str]) -> list[Drug]:
        """The ingredients, among these, that must be tapered rather than stopped."""
        return [
            self.drugs[i] for i in ingredients if i in self.drugs and self.drugs[i].withdrawal_risk
        ]

    def __post_init__(self) -> None:
        for entry_id, names in self.entry_names():
            for name in names:
                self._names.setdefault(normalize(name), entry_id)
        for c in self.classes.values():
            for name in (c.id, c.name, *c.aliases):
                self._class_names.setdefault(normalize(name), c.id)
        for d in self.drugs.values():
            if d.rxcui:
                self._rxcui[d.rxcui] = d.id
            if d.atc:
                # An ATC code two ingredients share names neither: None, not a guess.
                self._atc[d.atc] = None if d.atc in self._atc else d.id

    def entry_names(self) -> Iterable[tuple[str, tuple[str, ...]]]:
        for d in self.drugs.values():
            yield d.id, (d.id, d.name, *d.brands, *d.synonyms)
        for p in self.products.values():
            yield p.id, (p.id, p.name, *p.brands, *p.synonyms)

    def by_rxcui(self, rxcui: str) -> Drug | None:
        """The ingredient with this RxNorm ingredient code, or None."""
        drug_id = self._rxcui.get(rxcui.strip())
        return self.drugs[drug_id] if drug_id else None

    def by_atc(self, atc: str) -> Drug | None:
        """The ingredient with this ATC code, or None, also when two ingredients of
        the catalog share the code."""
        drug_id = self._atc.get(atc.strip().upper())
        return self.drugs[drug_id] if drug_id else None

    def ingredients_of(self, entry_id: str) -> tuple[str, ...]:
        if entry_id in self.drugs:
            return (entry_id,)
        return self.products[entry_id].ingredients

    def display_name(self, entry_id: str) -> str:
        entry = self.drugs.get(entry_id) or self.products[entry_id]
        return entry.name

    def _lookup(self, text: str) -> str | None:
        for candidate in lookup_forms(text):
            if candidate in self._names:
                return self._names[candidate]
        return None

    def resolve(self, text: str) -> Resolved | None:
        """The catalog entry a name refers to, or None."""
        norm = normalize(text)
        entry_id = self._lookup(norm)
        if entry_id is not None:
            return Resolved(
                input=text,
                entry_id=entry_id,
                name=self.display_name(entry_id),
                ingredients=self.ingredients_of(entry_id),
            )
        return self._resolve_combination(text, norm)

    def _resolve_combination(self, text: str, norm: str) -> Resolved | None:
        parts = combination_parts(norm)
        if len(parts) < 2:
            return None
        ids = [self._lookup(p) for p in parts]
        if any(i is None for i in ids):
            return None
        ingredients: list[str] = []
        for entry_id in ids:
            assert entry_id is not None
            for ingredient in self.ingredients_of(entry_id):
                if ingredient not in ingredients:
                    ingredients.append(ingredient)
        product = self._product_with(ingredients)
        if product is not None:
            return Resolved(
                input=text,
                entry_id=product.id,
                name=product.name,
                ingredients=product.ingredients,
            )
        names = "/".join(self.drugs[i].name for i in ingredients)
        return Resolved(
            input=text, entry_id="+".join(ingredients), name=names, ingredients=tuple(ingredients)
        )

    def _product_with(self, ingredients: list[str]) -> Product | None:
        wanted = frozenset(ingredients)
        for p in self.products.values():
            if frozenset(p.ingredients) == wanted:
                return p
        return None

    def suggest(self, text: str, *, limit: int = 3) -> tuple[Suggestion, ...]:
        """Catalog entries close to a misspelt name ("diazepan" -> diazepam), closest
        first, each with the name (generic, brand or synonym) it matched on."""
        candidates = lookup_forms(normalize(text))
        probe = candidates[-1] if candidates else ""
        if not probe:
            return ()
        matches = difflib.get_close_matches(probe, list(self._names), n=limit * 3, cutoff=0.75)
        if not matches:
            matches = sorted(n for n in self._names if n.startswith(probe))
        found: dict[str, Suggestion] = {}
        for m in matches:
            entry_id = self._names[m]
            found.setdefault(
                entry_id,
                Suggestion(drug_id=entry_id, name=self.display_name(entry_id), matched_on=m),
            )
        return tuple(found.values())[:limit]

    def resolve_class(self, text: str) -> DrugClass | None:
        """A class named in an allergy list ("penicillins", "sulfa", "NSAIDs")."""
        class_id = self._class_names.get(normalize(text))
        return self.classes[class_id] if class_id else None

    def search(self, query: str, *, limit: int) -> list[Drug | Product]:
        """Entries whose names start with the query, then those that contain it, then
        those a misspelling of it may mean (closest first), for autocomplete."""
        q = normalize(query)
        if not q:
            return []
        starts: list[str] = []
        contains: list[str] = []
        for name, entry_id in self._names.items():
            if name.startswith(q) or any(w.startswith(q) for w in name.split()):
                starts.append(entry_id)
            elif q in name:
                contains.append(entry_id)
        ordered: list[str] = []
        close = [s.drug_id for s in self.suggest(query, limit=limit)]
        for entry_id in [
            *sorted(starts, key=self.display_name),
            *sorted(contains, key=self.display_name),
            *close,
        ]:
            if entry_id not in ordered:
                ordered.append(entry_id)
        return [self.entry(e) for e in ordered[:limit]]

    def entry(self, entry_id: str) -> Drug | Product:
        return self.drugs.get(entry_id) or self.products[entry_id]
