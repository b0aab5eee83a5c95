"""The safety-net advice a patient gets with each withdrawal self-report
(docs/clinical.md, "Taper planner", withdrawal self-reports): when to get help at once, and that
the dose changes only with the clinician. In the project's own words; each
scale's `advice_sources` names what it rests on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.messages import MessageKind
from service.domain.taper.symptoms import Scale

URGENT_HELP = (
    "Get help now if you have a seizure, become severely confused, or see or hear "
    "things that are not there: call emergency services (911 in the US). If you have "
    "thoughts of suicide or of harming yourself, call emergency services or a crisis "
    "line now (in the US, call or text 988, the Suicide & Crisis Lifeline)."
)
OWN_DOSE = (
    "If your symptoms get worse or worry you, contact your clinician. Do not restart, "
    "stop or change your dose on your own."
)
_TOLD = {
    MessageKind.TAPER_RED_FLAG: (
        "Your care team has been alerted; do not wait for them to call you."
    ),
    MessageKind.TAPER_SYMPTOMS: "Your care team has been told about this report.",
}
_NOBODY_TOLD = (
    "No clinician on your care team could be alerted through medtrack: contact your "
    "clinician yourself."
)


@dataclass(frozen=True, kw_only=True)
class SafetyNet:
    text: str
    # A red flag was reported: the app shows the advice before anything else.
    urgent: bool
    sources: tuple[str, ...]


def _reported(scale: Scale, red_flags: Sequence[str]) -> str:
    labels = [item.label for i in red_flags if (item := scale.item(i)) is not None]
    return "You reported: " + "; ".join(s[:1].lower() + s[1:] for s in labels) + "."


def safety_net(
    scale: Scale,
    *,
    red_flags: Sequence[str] = (),
    alert: MessageKind | None = None,
    care_team_told: bool = False,
) -> SafetyNet:
    """The advice for a report with these red flags, after `alert` went (or, with
    no clinician to tell, could not go) to the care team; with no arguments, the
    standing advice shown before a report."""
    parts = [_reported(scale, red_flags)] if red_flags else []
    if alert is not None:
        parts.append(_TOLD.get(alert, _NOBODY_TOLD) if care_team_told else _NOBODY_TOLD)
    parts += [URGENT_HELP, OWN_DOSE]
    return SafetyNet(text=" ".join(parts), urgent=bool(red_flags), sources=scale.advice_sources)
