"""What a patient is told about a finding: plain words, not the clinician's text.

Each finding maps to one topic: its kind decides for allergies, conditions, age, dose
limits, duplicates, abrupt stops and partial screening; for a drug-drug finding, the
effect the rule names does (breathing, serotonin, bleeding...), and a finding whose
effect names none of them gets the general interaction topic. Every topic says what it
means for the patient, what to watch for and when to call, and names the public,
patient-facing pages it follows, in our words (docs/clinical.md, "What patients are
told"). The texts are English here and translated where shown (service.i18n).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.i18n import N_, gettext


@dataclass(frozen=True, kw_only=True)
class Topic:
    id: str
    means: str
    watch_for: str
    when_to_call: str
    # Ids of knowledge-base sources (service/knowledge/data/sources/patient.yaml and
    # the FDA communications already cited there).
    sources: tuple[str, ...]


_CALL_CLINICIAN = N_(
    "Do not stop or change any of your medicines on your own. Call your clinician or "
    "pharmacist if you have questions or notice anything new. Call 911 for trouble "
    "breathing, fainting, a seizure, or if you cannot be woken."
)

_TOPICS = (
    Topic(
        id="breathing",
        means=N_(
            "Taken together, these medicines can make you very sleepy and slow or weaken "
            "your breathing."
        ),
        watch_for=N_(
            "Unusual dizziness or light-headedness, extreme sleepiness, slow or shallow "
            "breathing, or being hard to wake. Avoid alcohol and do not drive until you "
            "know how they affect you."
        ),
        when_to_call=N_(
            "Call 911 at once if you or someone with you notices slowed or difficult "
            "breathing, or you cannot be woken or do not respond normally. Call your "
            "clinician about new or worse sleepiness or dizziness."
        ),
        sources=("fda-2016-opioid-benzodiazepine",),
    ),
    Topic(
        id="serotonin",
        means=N_(
            "These medicines both raise serotonin, a chemical messenger. Together they can "
            "rarely cause too much of it (serotonin syndrome), most often soon after "
            "starting or raising a dose."
        ),
        watch_for=N_(
            "Agitation or confusion, a fast heartbeat, sweating or fever, shivering, "
            "twitching or stiff muscles, or diarrhoea."
        ),
        when_to_call=N_(
            "Call your clinician the same day about mild symptoms. Call 911 for a high "
            "fever, a seizure, a very fast or irregular heartbeat, or fainting."
        ),
        sources=("cleveland-clinic-serotonin-syndrome",),
    ),
    Topic(
        id="bleeding",
        means=N_(
            "Together these medicines can make you bleed or bruise more easily, sometimes "
            "inside the body where you cannot see it."
        ),
        watch_for=N_(
            "Bleeding gums or nose bleeds that are hard to stop, unusual bruises, red or "
            "dark brown urine, black or bloody stools, or vomiting blood."
        ),
        when_to_call=N_(
            "Call your clinician about any sign of unusual bleeding. Call 911 for bleeding "
            "that will not stop, vomiting blood, a sudden severe headache, or a fall or "
            "blow to the head."
        ),
        sources=("medlineplus-blood-thinners",),
    ),
    Topic(
        id="heart-rhythm",
        means=N_(
            "Together these medicines can change the rhythm of your heart. This is rare, "
            "but it can be serious."
        ),
        watch_for=N_(
            "A pounding, racing or irregular heartbeat (palpitations), feeling faint, or fainting."
        ),
        when_to_call=N_(
            "Call your clinician soon if palpitations keep coming back or you fainted and "
            "have recovered. Call 911 if someone faints and cannot be woken within a "
            "minute, has a seizure, or is not breathing normally."
        ),
        sources=("nhs-long-qt-syndrome",),
    ),
    Topic(
        id="muscle",
        means=N_(
            "Together these medicines can raise the chance of muscle damage from your "
            "cholesterol medicine. This is rare, but it can harm the kidneys."
        ),
        watch_for=N_(
            "Unexplained muscle pain, tenderness or weakness, dark urine, or unusual tiredness."
        ),
        when_to_call=N_(
            "Call your clinician promptly about unexplained muscle pain or weakness. Get "
            "medical help at once for severe muscle pain with dark urine."
        ),
        sources=("harvard-health-statin-muscle", "fda-2011-simvastatin"),
    ),
    Topic(
        id="stronger-effect",
        means=N_(
            "One of these medicines can raise the level or the effect of the other, so "
            "that you may get more of its side effects."
        ),
        watch_for=N_(
            "Side effects that are new or stronger than usual since the change, such as "
            "nausea, shakiness, confusion or unusual tiredness."
        ),
        when_to_call=N_(
            "Call your clinician or pharmacist about new or stronger side effects. Call "
            "911 for fainting, a seizure, trouble breathing or severe confusion."
        ),
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="low-blood-pressure",
        means=N_(
            "Together these medicines can lower your blood pressure more than either one "
            "alone, especially when you stand up."
        ),
        watch_for=N_(
            "Dizziness or light-headedness, blurred vision, feeling weak or sick, or "
            "fainting. Get up slowly from sitting or lying down."
        ),
        when_to_call=N_(
            "Call your clinician if you keep getting dizzy or you faint. Call 911 if "
            "someone faints and does not come round, or has chest pain."
        ),
        sources=("nhs-low-blood-pressure",),
    ),
    Topic(
        id="drowsiness",
        means=N_(
            "Together these medicines can make you more drowsy, dizzy or unsteady than "
            "either one alone, and slow your thinking and reactions."
        ),
        watch_for=N_(
            "Sleepiness in the daytime, dizziness, poor balance, confusion, or falls. Take "
            "care with driving and alcohol until you know how they affect you."
        ),
        when_to_call=N_(
            "Call your clinician if you feel too drowsy or unsteady, or have fallen. Call "
            "911 if someone is very hard to wake or their breathing is slow."
        ),
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="weaker-effect",
        means=N_(
            "One of these medicines or products can make another work less well, for "
            "example by lowering how much of it your body takes up."
        ),
        watch_for=N_(
            "Signs that a medicine is not working as well as before, such as your "
            "symptoms coming back."
        ),
        when_to_call=N_(
            "Tell your clinician or pharmacist; they may change the timing or the dose. "
            "Do not stop a medicine on your own."
        ),
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="interaction",
        means=N_(
            "These medicines or products can affect each other. Your care team has this "
            "on record and can tell you what it means for you."
        ),
        watch_for=N_("Any new or unusual symptom since you started the newer one."),
        when_to_call=_CALL_CLINICIAN,
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="allergy",
        means=N_("This medicine, or one close to it, is on your list of allergies."),
        watch_for=N_(
            "Rash, hives or itching, swelling of the face, lips or tongue, wheezing or "
            "trouble breathing."
        ),
        when_to_call=N_(
            "Call 911 for swelling of the face or throat, trouble breathing, or feeling "
            "faint. See your clinician as soon as you can for a milder rash or itching."
        ),
        sources=("mayo-clinic-drug-allergy",),
    ),
    Topic(
        id="pregnancy",
        means=N_(
            "This medicine may affect a pregnancy or a baby who is breastfed. Many "
            "medicines are safe, and stopping one can also cause harm."
        ),
        watch_for=N_(
            "Tell your care team if you are pregnant, may be, plan to be, or are breastfeeding."
        ),
        when_to_call=N_(
            "Talk with your clinician before you start or stop any medicine, and do not "
            "stop this one on your own. Call 911 in an emergency."
        ),
        sources=("fda-medicine-and-pregnancy",),
    ),
    Topic(
        id="condition",
        means=N_("This medicine needs extra care with a health condition in your record."),
        watch_for=N_("Your usual symptoms getting worse, or anything new."),
        when_to_call=_CALL_CLINICIAN,
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="older-adults",
        means=N_(
            "In people aged 65 and over, this medicine more often causes side effects "
            "such as confusion, dizziness or falls."
        ),
        watch_for=N_("Confusion, dizziness or unsteadiness, falls, or new sleepiness."),
        when_to_call=_CALL_CLINICIAN,
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="duplicate",
        means=N_(
            "Two of your medicines are the same or work the same way, so you may be "
            "getting more than intended."
        ),
        watch_for=N_(
            "Stronger side effects than usual. Check with your pharmacist before taking both."
        ),
        when_to_call=_CALL_CLINICIAN,
        sources=("fda-avoiding-drug-interactions",),
    ),
    Topic(
        id="dose-above-maximum",
        means=N_(
            "The dose prescribed is above the usual highest dose of this medicine. Your "
            "clinician may have a reason; take only what your prescription says."
        ),
        watch_for=N_("Side effects that are new or stronger than usual. Do not take extra doses."),
        when_to_call=N_(
            "Ask your clinician or pharmacist if you are not sure how much to take. If you "
            "took too much, call Poison Help at 1-800-222-1222. Call 911 if someone cannot "
            "be woken or has trouble breathing."
        ),
        sources=("hrsa-poison-help",),
    ),
    Topic(
        id="abrupt-stop",
        means=N_(
            "This medicine should not be stopped or cut down suddenly: the body gets used "
            "to it, and a fast change can cause withdrawal."
        ),
        watch_for=N_(
            "Anxiety, trouble sleeping, shakiness, sweating, or feeling unwell after a dose change."
        ),
        when_to_call=N_(
            "Change the dose only with your clinician. Call them about withdrawal "
            "symptoms. Call 911 for a seizure, severe confusion, or seeing or hearing "
            "things that are not there; for thoughts of suicide, call or text 988."
        ),
        sources=(
            "fda-2020-benzodiazepine-boxed-warning",
            "nice-ng215-2022",
            "samhsa-988-lifeline",
        ),
    ),
    Topic(
        id="partial-screening",
        means=N_(
            "This medicine is not in our list, so it could not be checked in full against "
            "your other medicines."
        ),
        watch_for=N_("Any new or unusual symptom after starting it."),
        when_to_call=N_(
            "Ask your pharmacist to check it against everything you take, including "
            "products you buy yourself. Call 911 in an emergency."
        ),
        sources=("fda-avoiding-drug-interactions",),
    ),
)

TOPICS: Mapping[str, Topic] = {t.id: t for t in _TOPICS}
FALLBACK = "interaction"

# The finding kinds whose topic the kind decides (docs/clinical.md, kinds table).
_BY_KIND = {
    "drug-allergy": "allergy",
    "drug-age": "older-adults",
    "duplicate-therapy": "duplicate",
    "dose-range": "dose-above-maximum",
    "abrupt-stop": "abrupt-stop",
    "partial-screening": "partial-screening",
}
_PREGNANCY = frozenset({"pregnancy", "breastfeeding"})

# A drug-drug finding's effect, read in this order: the first topic whose words
# appear wins, so the most dangerous effect a rule names decides.
_BY_EFFECT = (
    ("breathing", r"respirat|breathing"),
    ("serotonin", r"serotonin"),
    # A contraceptive that fails is the harm, not the breakthrough bleeding it brings.
    ("weaker-effect", r"contraceptive failure"),
    ("bleeding", r"bleed|haemorrhag|hemorrhag|\binr\b|anticoagulation"),
    ("muscle", r"myopath|rhabdomyolys"),
    ("heart-rhythm", r"\bqt\b|torsades|sudden (cardiac )?death"),
    (
        "stronger-effect",
        r"toxicit|level|concentration|exposure|hyperkal|potassium|kidney|nephrotox|hepat|"
        r"liver|marrow|neutropeni|pancytopeni|hyponatr|sodium|hypoglyc|ergotism|rash",
    ),
    ("low-blood-pressure", r"hypotension|syncope|faint"),
    ("heart-rhythm", r"arrhythmi|bradycardia|tachycardia|palpitation"),
    (
        "drowsiness",
        r"sedat|drows|somnolen|dizz|falls|coordination|sleep|confusion|delirium|cogniti|"
        r"anticholinergic|psychotic|central nervous|\bcns\b",
    ),
    (
        "weaker-effect",
        r"loss of|failure|lower|reduced|absor|less effect|resistance|contracepti",
    ),
)


def topic_for(finding: Mapping[str, Any]) -> Topic:
    """The topic of a finding as stored and returned (`finding_json`)."""
    kind = str(finding.get("kind") or "")
    if kind in _BY_KIND:
        return TOPICS[_BY_KIND[kind]]
    if kind == "drug-condition":
        return TOPICS["pregnancy" if finding.get("condition") in _PREGNANCY else "condition"]
    text = f"{finding.get('effect') or ''} {finding.get('mechanism') or ''}".lower()
    for topic, words in _BY_EFFECT:
        if re.search(words, text):
            return TOPICS[topic]
    return TOPICS[FALLBACK]


@dataclass(frozen=True, kw_only=True)
class PatientSummary:
    topic: str
    means: str
    watch_for: str
    when_to_call: str
    sources: tuple[str, ...]


def patient_summary(finding: Mapping[str, Any], locale: str | None) -> PatientSummary:
    """The finding in the patient's words and language."""
    t = topic_for(finding)
    return PatientSummary(
        topic=t.id,
        means=gettext(locale, t.means),
        watch_for=gettext(locale, t.watch_for),
        when_to_call=gettext(locale, t.when_to_call),
        sources=t.sources,
    )
