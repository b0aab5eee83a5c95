"""What the text of a drug name may carry, what it says of the dose, and the simpler
forms of it the catalog looks up (without strength, form and salt words).

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


# Words around a name that do not change which drug it is: strengths, dose forms
# and release, directions, and salts (the catalog lists the active moiety).
_UNITS = r"(?:mg|mcg|µg|ug|g|ml|l|%|units?|iu|meq|mmol|mcg/h|mg/ml|mg/5ml|mcg/ml)"
_STRENGTH = re.compile(
    rf"\b\d+(?:[.,]\d+)?(?:\s*(?:/|-)\s*\d+(?:[.,]\d+)?)*\s*{_UNITS}?(?:\s*/\s*\d*\s*{_UNITS})?(?=\s|$|,|;|\))"
)
_FORM_WORDS = frozenset(
    [
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "oral",
        "solution",
        "suspension",
        "liquid",
        "syrup",
        "elixir",
        "concentrate",
        "drops",
        "drop",
        "injection",
        "inj",
        "injectable",
        "vial",
        "pen",
        "prefilled",
        "syringe",
        "patch",
        "patches",
        "cream",
        "ointment",
        "gel",
        "lotion",
        "spray",
        "nasal",
        "inhaler",
        "inhalation",
        "hfa",
        "diskus",
        "ellipta",
        "respimat",
        "powder",
        "suppository",
        "film",
        "chewable",
        "odt",
        "er",
        "xr",
        "xl",
        "sr",
        "cr",
        "dr",
        "la",
        "ir",
        "ec",
        "extended",
        "delayed",
        "immediate",
        "sustained",
        "controlled",
        "modified",
        "release",
        "extended-release",
        "delayed-release",
        "immediate-release",
        "orally",
        "disintegrating",
        "sublingual",
        "buccal",
        "topical",
        "transdermal",
        "ophthalmic",
        "otic",
        "vaginal",
        "rectal",
        "po",
        "daily",
        "once",
        "twice",
        "bid",
        "tid",
        "qid",
        "qd",
        "qhs",
        "prn",
        "hs",
        "at",
        "bedtime",
        "each",
        "every",
        "dose",
        "doses",
        "by",
        "mouth",
        "generic",
        "brand",
    ]
)
_SALT_WORDS = frozenset(
    [
        "hydrochloride",
        "hcl",
        "hydrobromide",
        "hbr",
        "sodium",
        "potassium",
        "calcium",
        "magnesium",
        "sulfate",
        "sulphate",
        "succinate",
        "tartrate",
        "maleate",
        "mesylate",
        "besylate",
        "citrate",
        "carbonate",
        "phosphate",
        "acetate",
        "bromide",
        "fumarate",
        "oxalate",
        "dihydrate",
        "monohydrate",
        "trihydrate",
        "hemihydrate",
        "anhydrous",
        "salt",
        "salts",
        "bitartrate",
        "dipropionate",
        "propionate",
        "furoate",
        "xinafoate",
        "valerate",
        "sodium-free",
    ]
)
_SPLIT = re.compile(r"\s*(?:/|\+|&|,|;|\bwith\b|\band\b)\s*")


def normalize(text: str) -> str:
    """Lower case, without accents, trademark signs or repeated spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    for mark in "®™()#-_":
        text = text.replace(mark, " ")
    return " ".join(text.lower().split())


def _without(text: str, words: frozenset[str]) -> str:
    return " ".join(w for w in text.split() if w not in words)


def _ignorable(words: list[str]) -> bool:
    """Strength, form and salt words that may follow a name ("20 mg tablet", "HCl")."""
    rest = " ".join(words)
    return not _without(_without(_STRENGTH.sub(" ", rest), _FORM_WORDS), _SALT_WORDS).strip()


def lookup_forms(text: str) -> list[str]:
    """Progressively simpler forms of one name: as typed; its longest leading words
    followed only by strength, form or salt words ("Tylenol 3 tablet" -> "tylenol 3");
    then without strength, form and salt words."""
    words = text.split()
    prefixes = [" ".join(words[:k]) for k in range(len(words) - 1, 0, -1) if _ignorable(words[k:])]
    bare = " ".join(_STRENGTH.sub(" ", text).split())
    no_form = _without(bare, _FORM_WORDS)
    no_salt = _without(no_form, _SALT_WORDS)
    seen: list[str] = []
    for c in (text, *prefixes, bare, no_form, no_salt):
        if c and c not in seen:
            seen.append(c)
    return seen


def combination_parts(text: str) -> list[str]:
    """The names a normalised combination is made of, strengths left out
    ("oxycodone/acetaminophen 5/325" -> oxycodone, acetaminophen)."""
    stripped = " ".join(_STRENGTH.sub(" ", text).split())
    return [p for p in _SPLIT.split(stripped) if p]
