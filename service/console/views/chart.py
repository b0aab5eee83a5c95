"""The patient chart: the regimen with each prescription's versions, the record's
findings, the week's doses, adherence over the last 90 days, the taper plans and the
audit trail. Each part is read through the use case the JSON API reads it with, so
each read is checked and audited there: a clinician outside the care team, or an
administrator, meets the use cases' 404. Each current prescription carries its
Supply panel (views/supply_panel.py), whose forms post to views/supply.py."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from markupsafe import Markup

from service.console import svg
from service.console.blueprint import bp
from service.console.filters import amount
from service.console.session import console_ctx, signed_in
from service.console.views import supply_panel
from service.domain.audit import AuditAction, AuditOutcome
from service.domain.conditions import age_on
from service.domain.prescriptions import Status
from service.domain.schedule import DoseOutcome
from service.usecases import adherence, adherence_days, audit, patients, record, taper_finding
from service.usecases import prescriptions as rx
from service.usecases.adherence_days import AdherenceDays, DayKind
from service.usecases.dose_list import list_doses
from service.usecases.dose_views import DoseView
from service.usecases.patients import PatientRecord
from service.usecases.prescriptions import PrescriptionRecord
from service.web.context import RequestContext
from service.web.schemas.common import MAX_PAGE

ADHERENCE_DAYS = 90
AUDIT_PAGE = 25
# The deepest page the API's page query reaches (an offset of at most a million).
LAST_AUDIT_PAGE = 1_000_000 // AUDIT_PAGE
# ?week= further than this from today is taken for a mistyped year.
FARTHEST_WEEK = dt.timedelta(days=3660)
ACTION_WORDS = {a.value: a.name.lower() for a in AuditAction}
OUTCOME_WORDS = {o.value: o.name.lower().replace("_", " ") for o in AuditOutcome}


@dataclass(frozen=True, kw_only=True)
class Chip:
    """One dose of the week: local time, drug, amount, and its outcome in words."""

    time: str
    drug: str
    dose: str
    word: str
    prn: bool


@dataclass(frozen=True, kw_only=True)
class Day:
    date: dt.date
    today: bool
    chips: list[Chip]


@dataclass(frozen=True, kw_only=True)
class Week:
    monday: dt.date
    days: list[Day]
    previous: dt.date
    next: dt.date


@dataclass(frozen=True, kw_only=True)
class Strip:
    """One prescription's adherence: the API's figures, the picture, and in words."""

    drug: str
    row: adherence.AdherenceRow | None
    picture: Markup
    label: str
    flagged: list[tuple[dt.date, str]]


def _asked_monday(today: dt.date) -> dt.date:
    """The Monday of the week asked for with ?week=YYYY-MM-DD; this week's otherwise."""
    try:
        day = dt.date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        day = today
    if abs(day - today) > FARTHEST_WEEK:
        day = today
    return day - dt.timedelta(days=day.weekday())


def _chip(dose: DoseView, zone: zoneinfo.ZoneInfo, c: RequestContext) -> Chip:
    # Early or late as adherence counts it: taken outside the reminder policy's
    # on-time window, before or after.
    outcome = adherence_days.dose_outcome(dose, policy=c.reminders)
    off = outcome in (DoseOutcome.EARLY, DoseOutcome.LATE)
    return Chip(
        time=dose.scheduled_at.astimezone(zone).strftime("%H:%M"),
        drug=dose.drug,
        dose=f"{amount(dose.dose_amount)} {dose.dose_unit}",
        word=str(outcome) if off else str(dose.status),
        prn=dose.prn,
    )


def _midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), zone).astimezone(dt.UTC)


def _week(c: RequestContext, patient: PatientRecord) -> Week:
    """Monday to Sunday in the patient's zone, with the doses the dose list gives."""
    zone = zoneinfo.ZoneInfo(patient.timezone)
    today = c.clock().astimezone(zone).date()
    monday = _asked_monday(today)
    dates = [monday + dt.timedelta(days=i) for i in range(7)]
    found = list_doses(
        **c.planning_args(),
        patient_id=patient.id,
        start=_midnight(monday, zone),
        end=_midnight(monday + dt.timedelta(days=7), zone),
    )
    chips: dict[dt.date, list[Chip]] = {d: [] for d in dates}
    for dose in found:
        chips[dose.scheduled_at.astimezone(zone).date()].append(_chip(dose, zone, c))
    for day in chips.values():
        day.sort(key=lambda chip: (chip.time, chip.drug.casefold()))
    return Week(
        monday=monday,
        days=[Day(date=d, today=d == today, chips=chips[d]) for d in dates],
        previous=monday - dt.timedelta(days=7),
        next=monday + dt.timedelta(days=7),
    )


def _strips(c: RequestContext, patient_id: uuid.UUID) -> tuple[AdherenceDays, list[Strip]]:
    """Day cells and figures from one read of the window's doses (adherence_days,
    counting as the API's adherence endpoint counts over the same instants)."""
    days = adherence_days.adherence_days(
        **c.planning_args(), patient_id=patient_id, days=ADHERENCE_DAYS
    )
    dates = days.dates
    strips = []
    for p in days.prescriptions:
        row = p.figures
        label = svg.summary(p.drug, row, p.days)
        strips.append(
            Strip(
                drug=p.drug,
                row=row,
                picture=svg.adherence_strip(drug=p.drug, dates=dates, days=p.days, label=label),
                label=label,
                flagged=[
                    (day, svg.WORDS[kind])
                    for day, kind in zip(dates, p.days, strict=True)
                    if kind in (DayKind.LATE, DayKind.MISSED)
                ],
            )
        )
    return days, strips


def _audit_page() -> int:
    page = request.args.get("audit_page", "1")
    if not (page.isascii() and page.isdigit()) or len(page) > 7:
        return 1
    return int(page) if 0 < int(page) <= LAST_AUDIT_PAGE else 1


def _trail(c: RequestContext, patient_id: uuid.UUID) -> dict[str, Any]:
    page = _audit_page()
    entries = audit.list_patient_audit(
        **c.args(),
        patient_id=patient_id,
        limit=AUDIT_PAGE + 1,
        offset=(page - 1) * AUDIT_PAGE,
        newest_first=True,
    )
    return {"entries": entries[:AUDIT_PAGE], "page": page, "more": len(entries) > AUDIT_PAGE}


def _names(c: RequestContext, patient: PatientRecord) -> dict[uuid.UUID, str]:
    """Who acted, by account: the care team and the patient by name."""
    team = patients.get_care_team(**c.args(), patient_id=patient.id)
    names = {m.clinician_id: m.name for m in team}
    names[patient.user_id] = patient.name
    return names


def _summary(c: RequestContext, patient: PatientRecord) -> dict[str, Any]:
    today = c.clock().astimezone(zoneinfo.ZoneInfo(patient.timezone)).date()
    born = patient.date_of_birth
    return {"today": today, "age": age_on(born, today) if born else None}


def _versions(c: RequestContext, r: PrescriptionRecord) -> list[PrescriptionRecord]:
    """The prescription's versions, oldest first; one never changed has one version,
    the current one, already read with the regimen."""
    if r.version == 1:
        return [r]
    return rx.list_versions(**c.args(), patient_id=r.patient_id, rx_id=r.id)


def _page_parts(c: RequestContext, patient_id: uuid.UUID) -> dict[str, Any]:
    # The regimen first: it is refused to administrators, who read no clinical record.
    regimen = rx.list_prescriptions(
        **c.args(), patient_id=patient_id, status=None, limit=MAX_PAGE, offset=0
    )
    patient = patients.get_patient(**c.args(), patient_id=patient_id)
    versions = {r.id: _versions(c, r) for r in regimen}
    findings = record.list_findings(**c.args(), patient_id=patient_id, limit=MAX_PAGE)
    window, strips = _strips(c, patient_id)
    plans = taper_finding.list_patient_taper_plans(
        **c.args(), patient_id=patient_id, limit=MAX_PAGE, offset=0
    )
    current = [r for r in regimen if r.status != Status.DISCONTINUED]
    return {
        "patient": patient,
        **_summary(c, patient),
        "names": _names(c, patient),
        "current": current,
        "stopped": [r for r in regimen if r.status == Status.DISCONTINUED],
        "active": Status.ACTIVE.value,
        "versions": versions,
        "findings": findings,
        "week": _week(c, patient),
        "window": window,
        "strips": strips,
        "on_time_window_minutes": c.reminders.on_time // dt.timedelta(minutes=1),
        "plans": plans,
        "supply": supply_panel.panels(c, current),
        "trail": _trail(c, patient_id),
    }


def _common() -> dict[str, Any]:
    return {
        "section": "patients",
        "action_words": ACTION_WORDS,
        "outcome_words": OUTCOME_WORDS,
        "legend": [(svg.WORDS[k], svg.FILL[k], svg.STROKE.get(k)) for k in DayKind],
    }


@bp.route("/patients/<uuid:patient_id>")
@signed_in
def patient_chart(patient_id: uuid.UUID) -> ResponseReturnValue:
    """The chart; with htmx, only the week or the audit trail when that is the target."""
    c = console_ctx()
    target = request.headers.get("HX-Target") if request.headers.get("HX-Request") else None
    if target in ("week", "audit"):
        patient = patients.get_patient(**c.args(), patient_id=patient_id)
        if target == "week":
            part: dict[str, Any] = {"week": _week(c, patient)}
        else:
            part = {"trail": _trail(c, patient_id), "names": _names(c, patient)}
        return render_template(f"chart/_{target}.html", patient=patient, **part, **_common())
    return chart_page(patient_id)


def chart_page(patient_id: uuid.UUID, status: int = 200, **refused: Any) -> ResponseReturnValue:
    """The whole chart, with `refused` (the supply form tried, its message and errors,
    what was typed) beside that form."""
    parts = _page_parts(console_ctx(), patient_id)
    return render_template("chart/chart.html", **parts, **_common(), refused=refused), status
