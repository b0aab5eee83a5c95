"""IANA time-zone names."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid_timezone(name: str) -> bool:
    """True for a canonical or alias IANA name known to the installed tz database.

    Membership is checked against the database's own list rather than by opening
    the key, so that path-like input never reaches the file system.
    """
    return name in _known_zones()
