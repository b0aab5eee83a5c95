"""Readers for licensed external interaction datasets.

- `ddinter`: DDInter's CSV export, columns DDInterID_A, Drug_A, DDInterID_B,
  Drug_B, Level (Major, Moderate, Minor, Unknown).
- `csv`: medtrack's generic format, columns drug_a, drug_b, severity
  (contraindicated, major, moderate, minor, unknown), mechanism, management,
  source; only drug_a, drug_b and severity are required.

Readers only parse; a row they cannot use is reported with its file and line,
never dropped silently.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.domain.severity import Severity

UNKNOWN = "unknown"
FORMATS = ("ddinter", "csv")
_LEVELS = {s.value for s in Severity} | {UNKNOWN}
_REQUIRED = {
    "ddinter": ("DDInterID_A", "Drug_A", "DDInterID_B", "Drug_B", "Level"),
    "csv": ("drug_a", "drug_b", "severity"),
}
MAX_TEXT = 4000


@dataclass(frozen=True, kw_only=True)
class Row:
    where: str
    name_a: str
    name_b: str
    severity: str
    mechanism: str | None
    management: str | None
    source: str | None


@dataclass(frozen=True, kw_only=True)
class Rejected:
    where: str
    reason: str


class ImportFormatError(ValueError):
    """A file that is not in the format asked for (missing columns)."""


def _clip(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:MAX_TEXT] or None


def read(fmt: str, path: Path) -> Iterator[Row | Rejected]:
    """Rows of one file, in order; Rejected for each row that cannot be used."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in _REQUIRED[fmt] if c not in (reader.fieldnames or ())]
        if missing:
            raise ImportFormatError(f"{path}: missing column(s) {', '.join(missing)} for {fmt}")
        for raw in reader:
            where = f"{path.name}:{reader.line_num}"
            mechanism: str | None
            management: str | None
            source: str | None
            if fmt == "ddinter":
                a, b, level = raw["Drug_A"], raw["Drug_B"], raw["Level"]
                mechanism = management = None
                source = "DDInter"
            else:
                a, b, level = raw["drug_a"], raw["drug_b"], raw["severity"]
                mechanism, management = raw.get("mechanism"), raw.get("management")
                source = raw.get("source")
            a, b, level = (a or "").strip(), (b or "").strip(), (level or "").strip().lower()
            if not a or not b:
                yield Rejected(where=where, reason="a drug name is empty")
            elif level not in _LEVELS:
                yield Rejected(where=where, reason=f"unknown severity {level!r}")
            elif len(a) > 200 or len(b) > 200:
                yield Rejected(where=where, reason="a drug name is longer than 200 characters")
            else:
                yield Row(
                    where=where,
                    name_a=a,
                    name_b=b,
                    severity=level,
                    mechanism=_clip(mechanism),
                    management=_clip(management),
                    source=_clip(source),
                )
