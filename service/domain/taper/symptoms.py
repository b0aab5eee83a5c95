"""Short withdrawal self-report scales for patients during a taper (docs/clinical.md,
"Taper planner", withdrawal self-reports).

Each scale is a handful of items a patient rates on a phone in under a minute,
taken from the established instrument for the drug's class: CIWA-B for
benzodiazepines and other sedative-hypnotics, DESS for antidepressants, SOWS for
opioids, and a general list for the rest. They are short forms for watching a
taper, not the validated instruments themselves: a total at or above the
clinician's threshold proposes holding the dose and tells the care team; it
never changes a dose.

Every scale ends with the same four red-flag questions, answered yes or no
(seizure, severe confusion, hallucinations, thoughts of suicide or self-harm). A
yes alerts the care team at once whatever the total, and is kept out of the
total so that a threshold means the same with or without them.

An item may be left unrated: the total is the sum of the rated items, and the
report says which were not rated. A report with nothing rated is refused.

The default thresholds are a quarter to a third of the scale's maximum: a
conservative starting point that the clinician sets per plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.domain.errors import Problems
from service.domain.messages import MessageKind
from service.domain.taper.status import PlanStatus

# A plan takes reports from approval on, and after it completes (withdrawal can
# outlast the last step); not while a draft, nor once cancelled.
CLOSED_TO_REPORTS: tuple[PlanStatus, ...] = (PlanStatus.DRAFT, PlanStatus.CANCELLED)


@dataclass(frozen=True, kw_only=True)
class Item:
    id: str
    label: str
    # Rated from 0 (not at all) to `max` (as bad as it gets); a yes-or-no item
    # is 0 (no) or 1 (yes).
    max: int
    red_flag: bool = False


# The red flags of the design: withdrawal that needs a clinician now, not at the
# next review (docs/clinical.md, "Taper planner", withdrawal self-reports).
RED_FLAGS: tuple[Item, ...] = (
    Item(id="seizure", label="A seizure (fit)", max=1, red_flag=True),
    Item(
        id="disorientation",
        label="Severe confusion: not knowing where you are or what day it is",
        max=1,
        red_flag=True,
    ),
    Item(
        id="hallucinations",
        label="Seeing, hearing or feeling things that are not there",
        max=1,
        red_flag=True,
    ),
    Item(
        id="suicidal_thoughts",
        label="Thoughts of suicide or of harming yourself",
        max=1,
        red_flag=True,
    ),
)

# Knowledge-base source ids behind the safety-net advice every scale gives.
SAFETY_NET_SOURCES: tuple[str, ...] = ("nice-ng215-2022", "samhsa-988-lifeline")


@dataclass(frozen=True, kw_only=True)
class Scale:
    id: str
    name: str
    based_on: str
    # The most a symptom item is rated; red flags are yes or no.
    item_max: int
    items: tuple[Item, ...]
    default_threshold: int
    # The drug classes the scale is for; the general scale has none.
    classes: frozenset[str] = frozenset()
    # What the patient's safety-net advice rests on (knowledge-base source ids).
    advice_sources: tuple[str, ...] = SAFETY_NET_SOURCES

    @property
    def max_total(self) -> int:
        return sum(i.max for i in self.items if not i.red_flag)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


def _scale_items(item_max: int, *pairs: tuple[str, str]) -> tuple[Item, ...]:
    return (*(Item(id=i, label=label, max=item_max) for i, label in pairs), *RED_FLAGS)


SEDATIVE = Scale(
    id="ciwa-b-short",
    name="Benzodiazepine withdrawal, short form",
    based_on="CIWA-B (Busto et al., J Clin Psychopharmacol 1989)",
    item_max=4,
    items=_scale_items(
        4,
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
    advice_sources=(
        "fda-2020-benzodiazepine-boxed-warning",
        "asam-2025-benzodiazepine-tapering",
        *SAFETY_NET_SOURCES,
    ),
)
ANTIDEPRESSANT = Scale(
    id="dess-short",
    name="Antidepressant discontinuation, short form",
    based_on="DESS (Rosenbaum et al., Biol Psychiatry 1998)",
    item_max=3,
    items=_scale_items(
        3,
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
    items=_scale_items(
        4,
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
    advice_sources=("fda-2019-opioid-tapering", *SAFETY_NET_SOURCES),
)
GENERAL = Scale(
    id="withdrawal-general",
    name="Withdrawal symptoms, short form",
    based_on="Common withdrawal and rebound symptoms",
    item_max=3,
    items=_scale_items(
        3,
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


def scale_named(scale_id: str) -> Scale | None:
    """The scale a stored report names."""
    return next((s for s in SCALES if s.id == scale_id), None)


def check_threshold(scale: Scale, threshold: int, problems: Problems, field: str) -> None:
    if not 1 <= threshold <= scale.max_total:
        problems.add(field, f"The {scale.id} total runs from 0 to {scale.max_total}.")


@dataclass(frozen=True, kw_only=True)
class Reading:
    """A report as the scale reads it: the rated items, the total of the rated
    symptom items, and the items left unrated and red flags present, in scale order."""

    rated: dict[str, int]
    total: int
    unrated: tuple[str, ...]
    red_flags: tuple[str, ...]


def reading(scale: Scale, rated: Mapping[str, int]) -> Reading:
    """The reading of valid (or stored) ratings; unknown ids are left out."""
    known = {i.id: i for i in scale.items}
    return Reading(
        rated={k: v for k, v in rated.items() if k in known},
        total=sum(v for k, v in rated.items() if k in known and not known[k].red_flag),
        unrated=tuple(i.id for i in scale.items if i.id not in rated),
        red_flags=tuple(i.id for i in scale.items if i.red_flag and rated.get(i.id, 0) > 0),
    )


def score(scale: Scale, items: Mapping[str, int | None], total: int | None = None) -> Reading:
    """The reading of a report whose items may be left unrated (absent or null);
    raises naming every unknown or out-of-range item, a report with nothing rated,
    and a stated total that is not the sum of the rated symptom items."""
    problems = Problems()
    for key in items:
        if scale.item(key) is None:
            problems.add(f"items.{key}", f"Not an item of the {scale.id} scale.")
    rated = {k: v for k, v in items.items() if v is not None}
    for key, value in rated.items():
        item = scale.item(key)
        if item is not None and not 0 <= value <= item.max:
            answer = "0 (no) or 1 (yes)" if item.red_flag else f"between 0 and {item.max}"
            problems.add(f"items.{key}", f"Must be {answer}.")
    if not rated:
        problems.add("items", f"Rate at least one item of the {scale.id} scale.")
    problems.raise_if_any()
    read = reading(scale, rated)
    if total is not None and total != read.total:
        problems.add("total", f"The rated symptom items add up to {read.total}.")
        problems.raise_if_any()
    return read


def care_team_alert(read: Reading, threshold: int) -> MessageKind | None:
    """What the care team is told of a report: a red flag at once, whatever the
    total; otherwise a total at or above the threshold; otherwise nothing."""
    if read.red_flags:
        return MessageKind.TAPER_RED_FLAG
    if read.total >= threshold:
        return MessageKind.TAPER_SYMPTOMS
    return None
