"""Short withdrawal self-report scales for patients during a taper (docs/clinical.md,
"Taper planner").

Each scale is a handful of items a patient rates on a phone in under a minute,
taken from the established instrument for the drug's class: CIWA-B for
benzodiazepines and other sedative-hypnotics, DESS for antidepressants, SOWS for
opioids, and a general list for the rest. They are short forms for watching a
taper, not the validated instruments themselves: a total at or above the
clinician's threshold proposes holding the dose and tells the care team; it
never changes a dose.

The default thresholds are a quarter to a third of the scale's maximum: a
conservative starting point that the clinician sets per plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.domain.errors import Problems
from service.domain.taper.status import PlanStatus

# A plan takes reports from approval on, and after it completes (withdrawal can
# outlast the last step); not while a draft, nor once cancelled.
CLOSED_TO_REPORTS: tuple[PlanStatus, ...] = (PlanStatus.DRAFT, PlanStatus.CANCELLED)


@dataclass(frozen=True, kw_only=True)
class Item:
    id: str
    label: str


@dataclass(frozen=True, kw_only=True)
class Scale:
    id: str
    name: str
    based_on: str
    # Every item is rated from 0 (not at all) to `item_max` (as bad as it gets).
    item_max: int
    items: tuple[Item, ...]
    default_threshold: int
    # The drug classes the scale is for; the general scale has none.
    classes: frozenset[str] = frozenset()

    @property
    def max_total(self) -> int:
        return self.item_max * len(self.items)


def _items(*pairs: tuple[str, str]) -> tuple[Item, ...]:
    return tuple(Item(id=i, label=label) for i, label in pairs)


SEDATIVE = Scale(
    id="ciwa-b-short",
    name="Benzodiazepine withdrawal, short form",
    based_on="CIWA-B (Busto et al., J Clin Psychopharmacol 1989)",
    item_max=4,
    items=_items(
        ("anxiety", "Feeling anxious, nervous or on edge"),
        ("irritability", "Feeling irritable"),
        ("sleep", "Trouble sleeping"),
        ("tremor", "Shaking or trembling hands"),
        ("sweating", "Sweating"),
        ("heart_racing", "Heart racing or pounding"),
        ("muscle_aches", "Muscle aches, twitching or stiffness"),
        ("sensitivity", "Light, sound or touch feeling too strong"),
        ("concentration", "Trouble concentrating"),
        ("nausea", "Nausea or upset stomach"),
    ),
    default_threshold=12,
    classes=frozenset({"benzodiazepine", "z-drug", "barbiturate", "gabapentinoid"}),
)
ANTIDEPRESSANT = Scale(
    id="dess-short",
    name="Antidepressant discontinuation, short form",
    based_on="DESS (Rosenbaum et al., Biol Psychiatry 1998)",
    item_max=3,
    items=_items(
        ("dizziness", "Dizziness or light-headedness"),
        ("brain_zaps", "Electric-shock sensations ('brain zaps')"),
        ("irritability", "Irritability or outbursts"),
        ("anxiety", "Anxiety or agitation"),
        ("low_mood", "Low mood or crying spells"),
        ("sleep", "Trouble sleeping"),
        ("vivid_dreams", "Vivid dreams or nightmares"),
        ("nausea", "Nausea"),
        ("flu_like", "Flu-like aches, chills or tiredness"),
        ("confusion", "Confusion or trouble concentrating"),
    ),
    default_threshold=10,
    classes=frozenset({"antidepressant", "ssri", "snri", "tca", "maoi"}),
)
OPIOID = Scale(
    id="sows-short",
    name="Opioid withdrawal, short form",
    based_on="SOWS (Handelsman et al., Am J Drug Alcohol Abuse 1987)",
    item_max=4,
    items=_items(
        ("anxiety", "Feeling anxious or restless"),
        ("yawning", "Yawning"),
        ("runny_nose", "Runny nose or watery eyes"),
        ("goosebumps", "Goosebumps or chills"),
        ("aches", "Aching bones or muscles"),
        ("cramps", "Stomach cramps"),
        ("diarrhoea", "Diarrhoea"),
        ("nausea", "Nausea or vomiting"),
        ("sleep", "Trouble sleeping"),
        ("craving", "Craving the medicine"),
    ),
    default_threshold=12,
    classes=frozenset({"opioid"}),
)
GENERAL = Scale(
    id="withdrawal-general",
    name="Withdrawal symptoms, short form",
    based_on="Common withdrawal and rebound symptoms",
    item_max=3,
    items=_items(
        ("anxiety", "Anxiety or restlessness"),
        ("sleep", "Trouble sleeping"),
        ("headache", "Headache"),
        ("heart_racing", "Heart racing or pounding"),
        ("sweating", "Sweating"),
        ("tremor", "Shaking"),
        ("nausea", "Nausea"),
        ("return_of_symptoms", "The condition the medicine treats coming back"),
    ),
    default_threshold=8,
)
SCALES: tuple[Scale, ...] = (SEDATIVE, ANTIDEPRESSANT, OPIOID, GENERAL)


def scale_for(classes: Iterable[str]) -> Scale:
    """The scale for a drug of these classes (the general one when none fits)."""
    given = set(classes)
    return next((s for s in SCALES if s.classes & given), GENERAL)


def check_threshold(scale: Scale, threshold: int, problems: Problems, field: str) -> None:
    if not 1 <= threshold <= scale.max_total:
        problems.add(field, f"The {scale.id} total runs from 0 to {scale.max_total}.")


def score(scale: Scale, items: Mapping[str, int], total: int | None = None) -> int:
    """The total of a complete report; raises naming every missing, unknown or
    out-of-range item, and a stated total that is not the sum."""
    problems = Problems()
    known = {i.id for i in scale.items}
    for item in scale.items:
        if item.id not in items:
            problems.add(f"items.{item.id}", f"Rate '{item.label}' from 0 to {scale.item_max}.")
    for key, value in items.items():
        if key not in known:
            problems.add(f"items.{key}", f"Not an item of the {scale.id} scale.")
        elif not 0 <= value <= scale.item_max:
            problems.add(f"items.{key}", f"Must be between 0 and {scale.item_max}.")
    problems.raise_if_any()
    computed = sum(items.values())
    if total is not None and total != computed:
        problems.add("total", f"The items add up to {computed}.")
        problems.raise_if_any()
    return computed
