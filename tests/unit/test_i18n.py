"""The patient-facing catalogs: every text the code writes through gettext has a
Spanish translation with the same placeholders, and the patient's locale chooses it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from service.i18n import CATALOGS, catalog_path, gettext, negotiate, ngettext, translations

ROOT = Path(__file__).resolve().parents[2]
# As `make messages` extracts: the first argument of gettext and ngettext is the locale.
KEYWORDS = {"gettext": (2,), "ngettext": (2, 3), "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]")


def _msgids() -> dict[str | tuple[str, str], str]:
    """Every text marked in service/ and schedules/, with where it is."""
    found: dict[str | tuple[str, str], str] = {}
    for top in ("service", "schedules"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT / top),
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=(),
        ):
            found.setdefault(message, f"{top}/{filename}:{lineno}")
    return found


def _spanish() -> dict[str | tuple[str, str], object]:
    with catalog_path("es").open("rb") as po:
        catalog = read_po(po, locale="es")
    return {m.id: m for m in catalog if m.id and not m.fuzzy}


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_the_code_marks_patient_texts() -> None:
    # Guards the extraction itself: a keyword spec that found nothing would pass below.
    msgids = _msgids()
    assert len(msgids) >= 40
    assert any("serotonin" in str(m) for m in msgids)


def test_every_text_has_a_spanish_translation_with_the_same_placeholders() -> None:
    spanish = _spanish()
    problems = []
    for msgid, where in sorted(_msgids().items(), key=lambda kv: kv[1]):
        entry = spanish.get(msgid)
        if entry is None:
            problems.append(f"{where}: no Spanish entry for {msgid!r}")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)  # type: ignore[attr-defined]
        sources = msgid if isinstance(msgid, tuple) else (msgid,)
        wanted = set().union(*(_placeholders(s) for s in sources))
        for form in forms:
            if not form.strip():
                problems.append(f"{where}: empty Spanish text for {msgid!r}")
            elif _placeholders(form) != wanted:
                problems.append(f"{where}: placeholders differ in {form!r}")
    assert not problems, "\n".join(problems)


def test_a_spanish_patient_gets_spanish() -> None:
    text = gettext("es", "Did you take your %(drug)s?", drug="diazepam")
    assert text == "¿Tomó su diazepam?"


def test_a_regional_locale_gets_its_language() -> None:
    assert negotiate("es-MX") == "es"
    assert negotiate("es_AR") == "es"
    assert gettext("es-MX", "Open the app to log them.") == "Abra la aplicación para registrarlos."


@pytest.mark.parametrize("locale", [None, "", "fr", "pt-BR", "xx-not-a-locale", "en-GB"])
def test_an_unknown_or_english_locale_gets_english(locale: str | None) -> None:
    assert gettext(locale, "Did you take your %(drug)s?", drug="diazepam") == (
        "Did you take your diazepam?"
    )


def test_a_text_missing_from_the_catalog_stays_english() -> None:
    assert gettext("es", "A text no catalog holds, %(x)s.", x=1) == "A text no catalog holds, 1."


def test_spanish_plural_forms_follow_the_catalog_rule() -> None:
    # The compiled catalog picks the form by its Plural-Forms header (CLDR for Spanish:
    # "one" for 1, "many" for whole millions, "other" for the rest), not by n == 1.
    plural = translations("es").plural  # type: ignore[attr-defined]
    assert [plural(n) for n in (1, 0, 2, 5, 1_000_000)] == [0, 2, 2, 2, 1]
    # English has no catalog: one and other.
    assert ngettext("en", "%(n)s dose", "%(n)s doses", 1) == "1 dose"
    assert ngettext("en", "%(n)s dose", "%(n)s doses", 0) == "0 doses"
    # A plural text not yet translated stays English, with the English rule.
    assert ngettext("es", "%(n)s untranslated", "%(n)s untranslated ones", 2) == (
        "2 untranslated ones"
    )


def test_the_catalogs_ship_with_the_package() -> None:
    assert (CATALOGS / "messages.pot").exists()
    assert catalog_path("es").exists()
