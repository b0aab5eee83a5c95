"""CDS Hooks 2.0 cards from an assessment of draft orders (service.usecases.cds):
one card per finding, `critical` for contraindicated, `warning` for major and `info`
for moderate and minor; a card offering a taper plan for a draft that stops a
withdrawal-risk drug; and an `info` card for whatever medtrack could not check, so
that nothing passes unchecked in silence."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from service.interop.fhir.extensions import code_system
from service.usecases import abrupt_stop
from service.usecases.cds import Assessment, IssuedCard, StopRisk

INDICATOR = {"contraindicated": "critical", "major": "warning", "moderate": "info", "minor": "info"}
SUMMARY_LIMIT = 139
OVERRIDE_SYSTEM = code_system("cds-override-reason")
TOPIC_SYSTEM = code_system("cds-card-topic")
OVERRIDE_REASONS = (
    ("benefit-outweighs-risk", "Benefit outweighs the risk; the patient will be monitored"),
    ("tolerated-before", "The patient has taken this combination before without harm"),
    ("not-taking", "The patient no longer takes the other medication"),
    ("planned-change", "Part of a planned switch or taper"),
)
KIND_LABEL = {
    "drug-drug": "interaction",
    "duplicate-therapy": "duplicate therapy",
    "drug-allergy": "allergy",
    "drug-condition": "condition",
    "drug-age": "age",
}


def clip(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Text of at most `limit` characters, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _source(version: str, topic: str, display: str) -> dict[str, Any]:
    return {
        "label": f"medtrack knowledge base {version}",
        "topic": {"system": TOPIC_SYSTEM, "code": topic, "display": display},
    }


def _override_reasons() -> list[dict[str, str]]:
    return [{"system": OVERRIDE_SYSTEM, "code": c, "display": d} for c, d in OVERRIDE_REASONS]


def _sources_md(sources: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for s in sources:
        citation = str(s.get("citation") or s.get("id"))
        lines.append(f"- [{citation}]({s['url']})" if s.get("url") else f"- {citation}")
    return "\n".join(lines)


ORIGIN = {
    "draft": "draft order",
    "medtrack-prescription": "prescribed, in medtrack's record",
    "medtrack-reported-product": "reported by the patient, in medtrack's record",
    "ehr-medication": "current medication, from the EHR",
}


def _drug_line(d: Mapping[str, Any]) -> str:
    where = ORIGIN.get(str(d.get("origin")), "current medication")
    taper = f" — {d['taper']}" if d.get("taper") else ""
    return f"- **{d['resolved']}** (as sent: {d['input']}; {where}){taper}"


def _suggestions(refs: Sequence[str], names: str) -> list[dict[str, Any]]:
    return [
        {
            "label": clip(f"Remove the draft order of {names}", 80),
            "uuid": str(uuid.uuid4()),
            "actions": [
                {"type": "delete", "description": f"Remove the draft {ref}", "resourceId": ref}
                for ref in refs
            ],
        }
    ]


def finding_card(f: Mapping[str, Any], refs: Sequence[str], version: str) -> IssuedCard:
    severity, kind = str(f["severity"]), str(f["kind"])
    names = " + ".join(str(d["resolved"]) for d in f["drugs"])
    extra = f["allergy"] or f["condition"] or ""
    what = f"{severity.capitalize()} {KIND_LABEL.get(kind, kind)}: {names}"
    summary = clip(f"{what} ({extra})" if extra else f"{what}. {f['effect']}")
    detail = "\n\n".join(
        [
            "\n".join(_drug_line(d) for d in f["drugs"]),
            f"**Mechanism.** {f['mechanism']}",
            f"**Effect.** {f['effect']}",
            f"**Management.** {f['management']}",
            "**Sources.**\n" + _sources_md(f["sources"]),
        ]
    )
    body: dict[str, Any] = {
        "summary": summary,
        "detail": detail,
        "indicator": INDICATOR[severity],
        "source": _source(version, kind, f"medtrack finding: {KIND_LABEL.get(kind, kind)}"),
        "overrideReasons": _override_reasons(),
    }
    drafted = " + ".join(str(d["resolved"]) for d in f["drugs"] if d.get("origin") == "draft")
    if refs and severity in ("contraindicated", "major"):
        body["suggestions"] = _suggestions(refs, drafted)
        body["selectionBehavior"] = "at-most-one"
    return _issued(body, finding_id=str(f["id"]))


def _planner(base_url: str, patient_id: uuid.UUID, risk: StopRisk) -> str:
    return f"{base_url}console/patients/{patient_id}/tapers/new?prescription={risk.prescription_id}"


def stop_card(
    risk: StopRisk, a: Assessment, base_url: str, stop_sources: Sequence[Mapping[str, Any]]
) -> IssuedCard:
    """A draft stops a withdrawal-risk drug: taper instead (docs/clinical.md, "The
    abrupt-stop guard"), with the planner when the patient is linked."""
    name = risk.drug.name
    parts = [
        f"The draft order stops **{name}** ({risk.draft.text}) at once, with no taper.",
        f"**Why it matters.** {risk.drug.withdrawal_risk}",
    ]
    if risk.guard is not None:
        parts.append(f"**medtrack's record.** {risk.guard.summary}")
    if risk.taper is not None:
        start = risk.taper.get("start_dose_mg")
        algorithm = risk.taper["algorithm"]
        parts.append(
            f"**Management.** Plan a taper instead: for example from {start} mg a day, "
            f"{algorithm['percent']} % less every {risk.taper['interval_days']} days, no step "
            f"cutting more than {risk.taper['max_cut_pct']} %, adjusted in the planner."
        )
    else:
        parts.append(
            "**Management.** Plan a gradual taper rather than stopping; if the stop is "
            "intended (for example a serious adverse effect), record why."
        )
    parts.append("**Sources.**\n" + _sources_md(stop_sources))
    body: dict[str, Any] = {
        "summary": clip(f"Stopping {name} abruptly risks withdrawal: plan a taper instead"),
        "detail": "\n\n".join(parts),
        "indicator": INDICATOR[abrupt_stop.SEVERITY.value],
        "source": _source(a.knowledge_base_version, "abrupt-stop", "medtrack abrupt-stop guard"),
        "overrideReasons": _override_reasons(),
    }
    if a.patient_id is not None and risk.prescription_id is not None:
        body["links"] = [
            {
                "label": f"Plan a {name} taper in medtrack",
                "url": _planner(base_url, a.patient_id, risk),
                "type": "absolute",
            }
        ]
    if risk.draft.ref:
        body["suggestions"] = [
            {
                "label": clip(f"Keep {name}: withdraw the stop order", 80),
                "uuid": str(uuid.uuid4()),
                "actions": [
                    {
                        "type": "delete",
                        "description": f"Remove the draft {risk.draft.ref} that stops {name}",
                        "resourceId": risk.draft.ref,
                    }
                ],
            }
        ]
        body["selectionBehavior"] = "at-most-one"
    return _issued(body, finding_id=None)


def _unchecked(a: Assessment) -> IssuedCard | None:
    lines = [
        f"- {m.text}" + (f" (codes: {', '.join(m.unknown)})" if m.unknown else "")
        for m in a.unresolved
    ]
    current = [f"- {m.text}" for m in a.unresolved_current]
    notes = []
    if lines:
        notes.append("**Draft orders not recognised, so not checked:**\n" + "\n".join(lines))
    if current:
        notes.append(
            "**Current medications not recognised, so not checked against:**\n" + "\n".join(current)
        )
    if not a.saw_current:
        notes.append(
            "The patient's current medications were not prefetched and the patient is not "
            "linked to a medtrack record: the drafts were checked only against each other."
        )
    if a.ambiguous:
        notes.append(
            "The patient's identifiers name more than one medtrack patient: none was used."
        )
    if not notes:
        return None
    if lines:
        summary = clip("medtrack could not check: " + ", ".join(m.text for m in a.unresolved))
    else:
        summary = "medtrack checked these orders only in part: see the details"
    body = {
        "summary": summary,
        "detail": "\n\n".join(notes),
        "indicator": "info",
        "source": _source(a.knowledge_base_version, "partial-screening", "medtrack coverage"),
    }
    return _issued(body, finding_id=None)


def _issued(body: dict[str, Any], *, finding_id: str | None) -> IssuedCard:
    card_id = uuid.uuid4()
    body = {"uuid": str(card_id), **body}
    return IssuedCard(
        uuid=card_id,
        indicator=str(body["indicator"]),
        summary=str(body["summary"]),
        finding_id=finding_id,
        body=body,
    )


def render(a: Assessment, base_url: str) -> list[IssuedCard]:
    """Every card of an assessment, most urgent first."""
    cards = [
        finding_card(f, a.drafts_of.get(str(f["id"]), []), a.knowledge_base_version)
        for f in a.shown
    ]
    cards.extend(stop_card(r, a, base_url, a.stop_sources) for r in a.stops)
    unchecked = _unchecked(a)
    if unchecked is not None:
        cards.append(unchecked)
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(cards, key=lambda c: order[c.indicator])
