"""IANA time-zone names."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from importlib import resources

# Entries of a tz directory that are not places: `Factory` (no local time, "-00"),
# and what an operating system adds beside the database (`localtime` is the host's
# own zone, `posixrules` a template). A patient's doses must not follow the server.
NOT_PLACES = frozenset({"Factory", "localtime", "posixrules"})
# IANA names are ASCII words joined by "/" (tz-link.html, "Names of timezones"):
# no dots, so nothing relative or absolute that a file system would follow.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9][A-Za-z0-9_+-]*){0,2}$")


def _iana_names() -> frozenset[str]:
    """The names the tzdata package lists (zones and their links), which is the
    IANA database itself; without it, what the system's tz directory holds."""
    try:
        listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return frozenset(zoneinfo.available_timezones())
    return frozenset(listed.split())


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(n for n in _iana_names() if n not in NOT_PLACES and _NAME.match(n))


def is_valid_timezone(name: str) -> bool:
    """True for a canonical or alias IANA name of a place (or `UTC`, `Etc/GMT+5`).

    Membership is checked against the database's own list rather than by opening
    the key, so that path-like input never reaches the file system.
    """
    return name in _known_zones()
