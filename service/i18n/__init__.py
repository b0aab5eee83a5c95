"""Patient-facing texts in the patient's language (gettext message catalogs).

Every text a patient reads (notifications, finding summaries, safety advice) is
written in English in the code, wrapped in `gettext(locale, "...")` with `%(name)s`
placeholders, and looked up in the catalog of the patient's `locale`. A text kept in
a table and translated later is marked where it is written with `N_("...")`, so that
`make messages` finds it.

The catalogs are the `.po` files under `locale/` (`make messages` extracts and
updates them). They are compiled in memory on first use, once per locale, so that a
fresh clone needs no build step; English is the code's own text.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as _gettext
import io
from pathlib import Path

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

SUPPORTED_LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"
CATALOGS = Path(__file__).parent / "locale"
DOMAIN = "messages"


def negotiate(locale: str | None) -> str:
    """The supported locale closest to `locale` ("es-MX" -> "es"), else English."""
    if not locale:
        return DEFAULT_LOCALE
    base = locale.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED_LOCALES else DEFAULT_LOCALE


def catalog_path(locale: str) -> Path:
    """Where the `.po` catalog of a supported locale lives."""
    return CATALOGS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(locale: str) -> _gettext.NullTranslations:
    """The compiled catalog of a supported locale; English (the code's text) has none.
    Fuzzy entries are left out: a guess is not a translation."""
    path = catalog_path(locale)
    if locale == DEFAULT_LOCALE or not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str, /) -> str:
    """Marks `message` for the catalogs where it is written; `gettext` translates it
    where it is shown."""
    return message


def gettext(locale: str | None, message: str, /, **params: object) -> str:
    """`message` in `locale`, its `%(name)s` placeholders filled from `params`."""
    text = translations(negotiate(locale)).gettext(message)
    return text % params if params else text


def ngettext(locale: str | None, singular: str, plural: str, n: int, /, **params: object) -> str:
    """The form for `n` in `locale` (by the catalog's plural rule); `n` is also a
    placeholder."""
    chosen = translations(negotiate(locale)).ngettext(singular, plural, n)
    return chosen % {"n": n, **params}


def format_day(locale: str | None, day: dt.date, /) -> str:
    """A date as the patient's language writes it in a sentence, weekday first, so a
    patient can plan around it: "Wednesday, December 16, 2026", "miércoles, 16 de
    diciembre de 2026" (CLDR's full date pattern, from Babel)."""
    return format_date(day, format="full", locale=negotiate(locale))
