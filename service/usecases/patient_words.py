"""What a patient sees of findings and of the care team's reasons: the one rule every
door that shows a patient findings goes through (prescriptions, the record's findings,
reported products, interaction checks).

A patient gets each finding's kind, severity, drugs and `patient_summary` in their own
language; never the clinical text (mechanism, effect, management, the rules and the
literature) and never a clinician's override or acknowledgement reason. Clinicians get
the finding whole, with the summary the patient is given (docs/clinical.md, "What
patients are told").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from service.domain.accounts import Principal, Role
from service.domain.patient_summaries import patient_summary
from service.i18n import negotiate
from service.knowledge import load

# What a patient is given of a finding; everything else is the clinician's.
_PATIENT_KEYS = ("id", "kind", "severity", "drugs", "allergy", "condition")


def reads_patient_words(who: Principal) -> bool:
    """Patients read findings in plain words; the care team and admins read them whole."""
    return who.role is Role.PATIENT


def summary_json(finding: Mapping[str, Any], locale: str | None) -> dict[str, Any]:
    """A finding's patient summary, in `locale`, with its public sources."""
    s = patient_summary(finding, locale)
    # The patient-facing pages are curated sources, the same in every knowledge base
    # (imports add rules, never these), so the shipped one is read.
    sources = load().catalog.sources
    return {
        "topic": s.topic,
        "locale": negotiate(locale),
        "means": s.means,
        "watch_for": s.watch_for,
        "when_to_call": s.when_to_call,
        "sources": [
            {"id": sid, "citation": sources[sid].citation, "url": sources[sid].url}
            for sid in s.sources
            if sid in sources
        ],
    }


def finding_for(
    who: Principal, finding: Mapping[str, Any], *, locale: str | None
) -> dict[str, Any]:
    """A finding (as `finding_json` makes it, or as stored) as this caller sees it."""
    summary = summary_json(finding, locale)
    if not reads_patient_words(who):
        return {**finding, "patient_summary": summary}
    shown = {k: finding[k] for k in _PATIENT_KEYS if k in finding}
    return {**shown, "patient_summary": summary}


def findings_for(
    who: Principal, findings: Iterable[Mapping[str, Any]], *, locale: str | None
) -> tuple[dict[str, Any], ...]:
    return tuple(finding_for(who, f, locale=locale) for f in findings)


def reason_for(who: Principal, reason: str | None) -> str | None:
    """A clinician's reason (an override, an acknowledgement, why a change was made):
    the care team's, never shown to the patient."""
    return None if reads_patient_words(who) else reason
