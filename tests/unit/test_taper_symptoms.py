"""Withdrawal self-report scales in the domain (docs/clinical.md, "Taper planner"):
unrated items, red flags, what the care team is told and the safety-net advice."""

from __future__ import annotations

import pytest

from service import knowledge
from service.domain.errors import DomainValidationError
from service.domain.messages import MessageKind
from service.domain.taper.safety_net import OWN_DOSE, URGENT_HELP, safety_net
from service.domain.taper.symptoms import (
    ANTIDEPRESSANT,
    GENERAL,
    OPIOID,
    RED_FLAGS,
    SCALES,
    SEDATIVE,
    Scale,
    care_team_alert,
    reading,
    scale_for,
    scale_named,
    score,
)

FLAG_IDS = ("seizure", "disorientation", "hallucinations", "suicidal_thoughts")


def test_each_drug_class_gets_its_scale() -> None:
    assert scale_for({"benzodiazepine", "cns-depressant"}) is SEDATIVE
    assert scale_for({"ssri", "serotonergic"}) is ANTIDEPRESSANT
    assert scale_for({"opioid"}) is OPIOID
    assert scale_for({"beta-blocker"}) is GENERAL
    assert all(scale_named(s.id) is s for s in SCALES)
    assert scale_named("phq-9") is None


@pytest.mark.parametrize("s", SCALES, ids=lambda s: s.id)
def test_every_scale_ends_with_the_red_flags_kept_out_of_the_total(s: Scale) -> None:
    assert s.items[-len(RED_FLAGS) :] == RED_FLAGS
    assert tuple(i.id for i in RED_FLAGS) == FLAG_IDS
    assert all(i.max == 1 and i.red_flag for i in RED_FLAGS)
    symptoms = [i for i in s.items if not i.red_flag]
    assert all(i.max == s.item_max for i in symptoms)
    assert s.max_total == s.item_max * len(symptoms), "thresholds keep their meaning"
    assert len({i.id for i in s.items}) == len(s.items)


def test_unrated_items_are_allowed_and_the_total_counts_the_rated_ones() -> None:
    read = score(SEDATIVE, {"anxiety": 3, "sleep": None, "tremor": 2}, total=5)
    assert (read.total, read.rated, read.red_flags) == (5, {"anxiety": 3, "tremor": 2}, ())
    assert read.unrated == tuple(i.id for i in SEDATIVE.items if i.id not in ("anxiety", "tremor"))
    every = {i.id: 1 for i in SEDATIVE.items}
    full = score(SEDATIVE, every)
    assert (full.total, full.unrated, full.red_flags) == (10, (), FLAG_IDS)


def test_a_report_names_every_bad_item_and_needs_one_rated() -> None:
    with pytest.raises(DomainValidationError) as info:
        score(SEDATIVE, {"tremor": 9, "hiccups": 1, "sleep": -1, "seizure": 2})
    assert set(info.value.errors) == {
        "items.tremor",
        "items.hiccups",
        "items.sleep",
        "items.seizure",
    }
    assert info.value.errors["items.seizure"] == ["Must be 0 (no) or 1 (yes)."]
    for nothing in ({}, {"anxiety": None}):
        with pytest.raises(DomainValidationError) as info:
            score(SEDATIVE, nothing)
        assert set(info.value.errors) == {"items"}
    with pytest.raises(DomainValidationError) as info:
        score(SEDATIVE, {"anxiety": 2, "seizure": 1}, total=3)
    assert info.value.errors == {"total": ["The rated symptom items add up to 2."]}


def test_a_red_flag_alerts_whatever_the_total_and_a_total_at_the_threshold_otherwise() -> None:
    def alert(items: dict[str, int]) -> MessageKind | None:
        return care_team_alert(score(ANTIDEPRESSANT, items), threshold=10)

    assert alert({"dizziness": 0, "suicidal_thoughts": 1}) is MessageKind.TAPER_RED_FLAG
    assert alert({"dizziness": 3, "sleep": 3, "nausea": 3, "seizure": 1}) is (
        MessageKind.TAPER_RED_FLAG
    )
    assert alert({"dizziness": 3, "sleep": 3, "nausea": 3, "low_mood": 1}) is (
        MessageKind.TAPER_SYMPTOMS
    )
    assert alert({"dizziness": 3, "hallucinations": 0}) is None


def test_a_stored_report_reads_the_same_and_ignores_what_the_scale_lacks() -> None:
    read = reading(OPIOID, {"yawning": 2, "disorientation": 1, "retired_item": 4})
    assert (read.total, read.red_flags, read.rated) == (
        2,
        ("disorientation",),
        {"yawning": 2, "disorientation": 1},
    )


def test_the_standing_advice_says_when_to_get_urgent_help() -> None:
    net = safety_net(GENERAL)
    assert (net.text, net.urgent) == (f"{URGENT_HELP} {OWN_DOSE}", False)
    assert "988" in net.text
    assert "emergency services" in net.text


def test_a_red_flag_makes_the_advice_urgent_and_names_what_was_reported() -> None:
    net = safety_net(
        SEDATIVE,
        red_flags=("disorientation", "hallucinations"),
        alert=MessageKind.TAPER_RED_FLAG,
        care_team_told=True,
    )
    assert net.urgent is True
    assert net.text.startswith(
        "You reported: severe confusion: not knowing where you are or what day it is; "
        "seeing, hearing or feeling things that are not there. Your care team has been alerted"
    )
    assert net.text.endswith(f"{URGENT_HELP} {OWN_DOSE}")
    told = safety_net(SEDATIVE, alert=MessageKind.TAPER_SYMPTOMS, care_team_told=True)
    assert told.text.startswith("Your care team has been told about this report.")
    assert told.urgent is False


def test_with_nobody_to_alert_the_advice_says_so() -> None:
    net = safety_net(OPIOID, red_flags=("seizure",), alert=MessageKind.TAPER_RED_FLAG)
    assert "No clinician on your care team could be alerted" in net.text
    assert net.urgent is True


def test_every_advice_source_is_in_the_knowledge_base() -> None:
    sources = knowledge.load().catalog.sources
    for s in SCALES:
        assert s.advice_sources[-2:] == ("nice-ng215-2022", "samhsa-988-lifeline")
        assert all(sources[i].url for i in s.advice_sources), s.id
    assert SEDATIVE.advice_sources[:2] == (
        "fda-2020-benzodiazepine-boxed-warning",
        "asam-2025-benzodiazepine-tapering",
    )
    assert OPIOID.advice_sources[0] == "fda-2019-opioid-tapering"
