"""Every finding the knowledge base can raise has a summary in the patient's words,
which is not the clinician's text, says when to call, and names a public source."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.findings import Kind
from service.domain.patient_summaries import FALLBACK, TOPICS, patient_summary, topic_for
from service.knowledge import load

KB = load()
RULES = [*KB.pair_rules, *KB.cross_sensitivities, *KB.condition_rules, *KB.age_rules]


def _as_stored(rule: Any) -> dict[str, Any]:
    """A rule as a finding of it is stored (`finding_json`)."""
    return {
        "kind": rule.kind.value,
        "rule": rule.id,
        "mechanism": rule.mechanism,
        "effect": rule.effect,
        "management": rule.management,
        "condition": getattr(rule, "condition", None),
    }


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_rule_has_a_patient_summary_that_is_not_the_clinical_text(
    rule: Any, locale: str
) -> None:
    summary = patient_summary(_as_stored(rule), locale)
    texts = (summary.means, summary.watch_for, summary.when_to_call)
    assert all(t.strip() for t in texts)
    for clinical in (rule.effect, rule.mechanism, rule.management):
        assert clinical not in texts
        assert not clinical or clinical not in " ".join(texts)
    assert summary.sources


def test_almost_every_drug_drug_rule_gets_a_topic_of_its_own() -> None:
    # The general topic is for effects no topic covers (hypertensive reactions,
    # vasospasm, tendon rupture...): a handful, not a quarter of the rules.
    general = [r.id for r in KB.pair_rules if topic_for(_as_stored(r)).id == FALLBACK]
    assert len(general) <= 0.05 * len(KB.pair_rules), general


@pytest.mark.parametrize(
    ("rule_id", "topic"),
    [
        ("opioid-benzodiazepine", "breathing"),
        ("maoi-serotonergic", "serotonin"),
        ("anticoagulant-nsaid", "bleeding"),
        ("qt-qt", "heart-rhythm"),
        ("statin-cyp3a4-contraindicated", "muscle"),
        ("cns-depressant-antidepressant", "drowsiness"),
        ("pde5-nitrate", "low-blood-pressure"),
        ("lithium-nsaid", "stronger-effect"),
        ("contraceptive-inducer", "weaker-effect"),
        ("pregnancy-nsaid", "pregnancy"),
        ("beers-benzodiazepines", "older-adults"),
        ("penicillin-cephalosporin", "allergy"),
    ],
)
def test_rules_map_to_the_topic_their_effect_names(rule_id: str, topic: str) -> None:
    rule = next(r for r in RULES if r.id == rule_id)
    assert topic_for(_as_stored(rule)).id == topic


@pytest.mark.parametrize(
    ("kind", "topic"),
    [
        (Kind.DOSE_RANGE, "dose-above-maximum"),
        (Kind.ABRUPT_STOP, "abrupt-stop"),
        (Kind.DUPLICATE, "duplicate"),
        (Kind.PARTIAL_SCREENING, "partial-screening"),
        (Kind.ALLERGY, "allergy"),
        (Kind.AGE, "older-adults"),
    ],
)
def test_findings_no_rule_file_holds_have_a_topic_by_kind(kind: Kind, topic: str) -> None:
    assert topic_for({"kind": kind.value, "effect": "", "mechanism": ""}).id == topic


def test_every_kind_has_a_summary_and_an_unknown_one_still_says_when_to_call() -> None:
    for kind in Kind:
        assert topic_for({"kind": kind.value}).id in TOPICS
    odd = patient_summary({"kind": "something-new", "effect": "Unheard of."}, "en")
    assert odd.topic == FALLBACK
    assert "911" in odd.when_to_call


def test_every_topic_names_sources_the_knowledge_base_holds() -> None:
    for topic in TOPICS.values():
        for source in topic.sources:
            assert source in KB.catalog.sources, (topic.id, source)
            assert KB.catalog.sources[source].url


def test_a_spanish_patient_reads_the_summary_in_spanish() -> None:
    rule = next(r for r in KB.pair_rules if r.id == "opioid-benzodiazepine")
    en = patient_summary(_as_stored(rule), "en")
    es = patient_summary(_as_stored(rule), "es-MX")
    assert es.topic == en.topic == "breathing"
    assert es.when_to_call.startswith("Llame al 911 de inmediato")
    assert es.means != en.means
    assert patient_summary(_as_stored(rule), "de").means == en.means
