"""The adherence report as CSV for a clinician's records: one row per prescription
and a last row for all of them, or one row per dose.

Every row carries the patient and the period, so a sheet cut, sorted or pasted into
another still says whose doses and which days it counts; there are no comment or
title lines, which spreadsheets read as data. Instants are ISO 8601 (UTC, or with
the patient's offset where the column says local). Text from users (names, drugs)
never starts a cell with a character a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from service.usecases.adherence import AdherenceReport, Figures

# The columns that say whose doses and which period, first on every row.
CONTEXT_COLUMNS = (
    "patient_id",
    "patient_name",
    "period_from",
    "period_to",
    "timezone",
    "on_time_window_minutes",
)
FIGURE_COLUMNS = (
    "on_time",
    "early",
    "late",
    "skipped",
    "missed",
    "pending",
    "taken",
    "due",
    "percentage",
    "on_time_percentage",
)
# `scope` is "prescription" on a prescription's row and "overall" on the last row,
# whose prescription_id and drug are empty.
SUMMARY_COLUMNS = (*CONTEXT_COLUMNS, "scope", "prescription_id", "drug", *FIGURE_COLUMNS)
DOSE_COLUMNS = (
    *CONTEXT_COLUMNS,
    "dose_id",
    "prescription_id",
    "drug",
    "dose_amount",
    "dose_unit",
    "scheduled_at",
    "local_time",
    "status",
    "outcome",
    "taken_at",
    "minutes_from_scheduled",
)


def safe_cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    first = text.lstrip(" ")[:1]
    return "'" + text if first in ("=", "+", "-", "@") or text[:1] in ("\t", "\r") else text


def _context(report: AdherenceReport) -> list[Any]:
    return [
        report.patient_id,
        safe_cell(report.patient_name),
        report.period_start.isoformat(),
        report.period_end.isoformat(),
        report.timezone,
        report.on_time_window_minutes,
    ]


def _number(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _figures(f: Figures) -> list[Any]:
    return [
        f.on_time,
        f.early,
        f.late,
        f.skipped,
        f.missed,
        f.pending,
        f.taken,
        f.due,
        _number(f.percentage),
        _number(f.on_time_percentage),
    ]


def _write(header: tuple[str, ...], rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def summary_csv(report: AdherenceReport) -> str:
    """One row per prescription, then the overall row."""
    context = _context(report)
    rows = [
        [*context, "prescription", r.prescription_id, safe_cell(r.drug), *_figures(r)]
        for r in report.prescriptions
    ]
    rows.append([*context, "overall", "", "", *_figures(report.overall)])
    return _write(SUMMARY_COLUMNS, rows)


def doses_csv(report: AdherenceReport) -> str:
    """One row per scheduled dose, oldest first."""
    context = _context(report)
    rows = [
        [
            *context,
            d.dose_id,
            d.prescription_id,
            safe_cell(d.drug),
            d.dose_amount,
            safe_cell(d.dose_unit),
            d.scheduled_at.isoformat(),
            d.local_time.isoformat(),
            d.status,
            d.outcome.value,
            "" if d.taken_at is None else d.taken_at.isoformat(),
            "" if d.minutes_from_scheduled is None else d.minutes_from_scheduled,
        ]
        for d in report.doses
    ]
    return _write(DOSE_COLUMNS, rows)
