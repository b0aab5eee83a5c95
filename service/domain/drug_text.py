"""What the text of a drug name may carry, and what it says of the dose.

Names are refused when they carry characters that can make one name look like
another (Unicode TR36 "Unicode Security Considerations" and TR39 "Unicode Security
Mechanisms"): bidirectional controls and other invisible format characters, and
letters from more than one of the Latin, Greek and Cyrillic scripts, so that an
unscreened name can never be dressed as a catalog name (docs/clinical.md,
"Unlisted drugs").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Scripts whose letters are confusable with each other (TR39, "mixed-script confusables").
_CONFUSABLE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def name_problem(text: str) -> str | None:
    """Why a drug name is refused, or None."""
    for ch in text:
        if unicodedata.category(ch) == "Cf" or ch in "\u034f\u115f\u1160\u3164\uffa0":
            code = f"U+{ord(ch):04X}"
            return (
                f"Contains an invisible or bidirectional control character ({code}); "
                "type the name in plain letters."
            )
    scripts = {_script(ch) for ch in text if ch.isalpha()} - {None}
    if len(scripts) > 1:
        return (
            f"Mixes letters of the {' and '.join(sorted(s.title() for s in scripts if s))} "
            "scripts, which can make one name look like another; type it in one script."
        )
    return None


def _script(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    return next((s for s in _CONFUSABLE_SCRIPTS if name.startswith(s)), None)


@dataclass(frozen=True, kw_only=True)
class Strength:
    amount: Decimal
    unit: str

    def __str__(self) -> str:
        return f"{self.amount.normalize():f} {self.unit}"


# One strength in the text: "10mg", "2.5 mg", "500 mcg", "1 g"; not "5/325" nor "1 mg/mL".
_ONE_STRENGTH = re.compile(
    r"(?<![\d./])(\d+(?:[.,]\d+)?)\s*(mg|mcg|µg|ug|g)\b(?!\s*/)", re.IGNORECASE
)
_UNIT = {"mg": "mg", "mcg": "mcg", "µg": "mcg", "ug": "mcg", "g": "g"}


def stated_strength(text: str) -> Strength | None:
    """The single strength a drug text states ("lexapro 10mg tab" -> 10 mg), or None
    when it states none, several, or a concentration or combination strength."""
    found = _ONE_STRENGTH.findall(text)
    if len(found) != 1 or "/" in text:
        return None
    number, unit = found[0]
    try:
        amount = Decimal(number.replace(",", "."))
    except InvalidOperation:
        return None
    return Strength(amount=amount, unit=_UNIT[unit.lower()])
