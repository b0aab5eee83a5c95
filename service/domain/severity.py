"""Alert tiers for interaction findings (docs/clinical.md, "Interaction checking")."""

from __future__ import annotations

import enum


class Severity(enum.StrEnum):
    """Ordered from most to least severe; `rank` 0 is the most severe."""

    CONTRAINDICATED = "contraindicated"
    MAJOR = "major"
    MODERATE = "moderate"
    MINOR = "minor"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: Severity) -> bool:
        return self.rank <= other.rank


_ORDER = tuple(Severity)
