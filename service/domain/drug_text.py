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

# Characters that pass for others or for nothing: the dotless i and the long s look
# like i and f (TR39 confusables); blank-looking symbols and spaces other than the
# plain space hide where a name ends.
_LOOKALIKES = frozenset("\u0131\u017f\u2800\u3164\uffa0\u115f\u1160\u034f")


def name_problem(text: str) -> str | None:
    """Why a drug name is refused, or None."""
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cf" or ch in _LOOKALIKES or (category == "Zs" and ch != " "):
            return (
                f"Contains a character that is invisible or passes for another (U+{ord(ch):04X}); "
                "type the name in plain letters."
            )
    scripts = sorted({_script(ch) for ch in text if ch.isalpha()})
    if len(scripts) > 1:
        return (
            f"Mixes letters of the {' and '.join(s.title() for s in scripts)} scripts, which "
            "can make one name look like another; type it in one script."
        )
    return None


def _script(ch: str) -> str:
    """The script a letter belongs to, by the first word of its Unicode name (LATIN,
    GREEK, CYRILLIC, ARMENIAN, CHEROKEE...)."""
    return unicodedata.name(ch, "UNKNOWN").split()[0]


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
