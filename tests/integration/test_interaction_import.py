"""Importing licensed interaction datasets, and their rules at check time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from service import knowledge
from service.cli import main
from service.db.uow import Database
from service.domain.interactions import Item, KnowledgeBase
from service.knowledge.importers import ImportFormatError
from service.usecases.context import SYSTEM
from service.usecases.imports import ImportSummary, import_interactions
from service.usecases.interactions import external_key, imported_rules
from tests.conftest import Builders, prescription_body

DDINTER = """\
DDInterID_A,Drug_A,DDInterID_B,Drug_B,Level
DDInter1,Sertraline,DDInter2,Phenelzine,Major
DDInter3,Valium,DDInter4,Lexapro,Moderate
DDInter5,Warfarin,DDInter6,Abemaciclib,Minor
DDInter7,Levothyroxine,DDInter8,Metformin,Unknown
DDInter9,,DDInter10,Aspirin,Major
DDInter2,Phenelzine,DDInter1,sertraline,Moderate
"""

GENERIC = """\
drug_a,drug_b,severity,mechanism,management,source
Lexapro,Valium,major,Additive CNS depression,Avoid the combination,Test monograph 2026
abemaciclib,ketoconazole,major,CYP3A4 inhibition raises abemaciclib,Reduce the dose,Label 2026
levothyroxine,metformin,unknown,,,
"""


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return knowledge.load()


@pytest.fixture(autouse=True)
def _no_imports(database: Database) -> Iterator[None]:
    """conftest's PostgreSQL reset does not truncate the import tables; start and end empty."""

    def wipe() -> None:
        with database.engine.begin() as conn:
            conn.execute(text("DELETE FROM imported_interactions"))
            conn.execute(text("DELETE FROM interaction_imports"))

    wipe()
    yield
    wipe()


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def run_import(database: Database, kb: KnowledgeBase, fmt: str, *paths: Path) -> ImportSummary:
    return import_interactions(
        uow=database.uow(),
        caller=SYSTEM,
        clock=lambda: dt.datetime.now(dt.UTC),
        kb=kb,
        fmt=fmt,
        paths=list(paths),
    )


def stored_pairs(database: Database) -> list[tuple[Any, ...]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT dataset, drug_a, drug_b, name_a, name_b, severity "
                "FROM imported_interactions ORDER BY drug_a, drug_b"
            )
        )
        return [tuple(r) for r in rows]


def count(database: Database, table: str) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def test_ddinter_import_round_trip(tmp_path: Path, database: Database, kb: KnowledgeBase) -> None:
    path = write(tmp_path, "ddinter.csv", DDINTER)
    summary = run_import(database, kb, "ddinter", path)

    assert summary.rows_read == 6
    assert summary.pairs_stored == 4
    assert summary.unknown_level == 1
    assert summary.unresolved_names == 1
    assert [(r.where, r.reason) for r in summary.rejected] == [
        ("ddinter.csv:6", "a drug name is empty")
    ]
    assert summary.knowledge_base_version == f"{kb.version}+imports.1"

    # One row per pair, keys sorted; the brand names resolve to ingredients, the
    # reversed duplicate keeps the more severe statement.
    pairs = stored_pairs(database)
    assert [(a, b, severity) for _, a, b, _, _, severity in pairs] == [
        ("diazepam", "escitalopram", "moderate"),
        ("levothyroxine", "metformin", "unknown"),
        ("phenelzine", "sertraline", "major"),
        ("warfarin", "x:abemaciclib", "minor"),
    ]
    assert {p[0] for p in pairs} == {"ddinter"}
    names = {(a, b): (na, nb) for _, a, b, na, nb, _ in pairs}
    assert names[("diazepam", "escitalopram")] == ("Valium", "Lexapro")
    assert names[("warfarin", "x:abemaciclib")] == ("Warfarin", "Abemaciclib")
    assert count(database, "interaction_imports") == 1
    with database.engine.connect() as conn:
        audited = conn.execute(
            text("SELECT count(*) FROM audit_events WHERE subtype = 'interactions.import'")
        ).scalar_one()
    assert audited == 1

    again = run_import(database, kb, "ddinter", path)
    assert again.pairs_stored == 4
    assert stored_pairs(database) == pairs
    assert count(database, "interaction_imports") == 2
    assert again.knowledge_base_version == f"{kb.version}+imports.2"


def test_reimport_replaces_the_datasets_earlier_statement(
    tmp_path: Path, database: Database, kb: KnowledgeBase
) -> None:
    run_import(database, kb, "csv", write(tmp_path, "v1.csv", GENERIC))
    changed = GENERIC.replace("Lexapro,Valium,major", "Valium,Lexapro,minor")
    run_import(database, kb, "csv", write(tmp_path, "v2.csv", changed))
    pairs = {(a, b): severity for _, a, b, _, _, severity in stored_pairs(database)}
    assert len(pairs) == 3
    assert pairs[("diazepam", "escitalopram")] == "minor"


def test_each_dataset_keeps_its_own_statement(
    tmp_path: Path, database: Database, kb: KnowledgeBase
) -> None:
    run_import(database, kb, "ddinter", write(tmp_path, "ddinter.csv", DDINTER))
    run_import(database, kb, "csv", write(tmp_path, "generic.csv", GENERIC))
    rows = [p for p in stored_pairs(database) if p[1:3] == ("diazepam", "escitalopram")]
    assert sorted((p[0], p[5]) for p in rows) == [("csv", "major"), ("ddinter", "moderate")]


def check(make: Builders, drugs: list[str]) -> dict[str, Any]:
    doc = make.clinician()
    r = make.client.post("/v1/interactions/check", json={"drugs": drugs}, headers=doc.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    body: dict[str, Any] = r.get_json()
    return body


def test_imported_rules_merge_with_curated_ones_at_check_time(
    tmp_path: Path, database: Database, kb: KnowledgeBase, make: Builders
) -> None:
    curated = check(make, ["Lexapro", "Valium"])
    assert [f["severity"] for f in curated["findings"]] == ["moderate"]
    curated_sources = {s["id"] for s in curated["findings"][0]["sources"]}

    run_import(database, kb, "csv", write(tmp_path, "generic.csv", GENERIC))
    body = check(make, ["Lexapro", "Valium"])
    assert body["knowledge_base_version"] == f"{kb.version}+imports.1"
    assert len(body["findings"]) == 1
    finding = body["findings"][0]
    assert (finding["kind"], finding["severity"]) == ("drug-drug", "major")
    assert finding["rule"] == "imported:diazepam|escitalopram"
    assert set(curated["findings"][0]["rules"]) < set(finding["rules"])
    sources = {s["id"]: s for s in finding["sources"]}
    assert curated_sources < set(sources)
    imported = sources["import:csv:Test monograph 2026"]
    assert "Test monograph 2026" in imported["citation"]
    assert imported["url"] is None
    # Curated texts lead even when the imported rule sets the severity.
    assert finding["mechanism"] == curated["findings"][0]["mechanism"]


PAIRS = """\
drug_a,drug_b,severity,mechanism,management,source
drug one,drug two,major,m12,,S
drug three,drug one,moderate,m31,,S
drug two,drug four,minor,m24,,S
drug three,drug four,major,m34,,S
drug one,drug five,unknown,,,S
"""


def test_a_check_fetches_the_imported_pairs_it_can_report(
    tmp_path: Path, database: Database, kb: KnowledgeBase
) -> None:
    """New drugs against each other and the regimen, from either side of a stored
    pair; pairs within the regimen and 'unknown' levels are not fetched."""
    run_import(database, kb, "csv", write(tmp_path, "pairs.csv", PAIRS))

    def item(name: str) -> Item:
        return Item(input=name, name=name, ingredients=(external_key(name),))

    def fetched(new: list[str], current: list[str]) -> set[str]:
        with database.uow() as uow:
            rules = imported_rules(uow, [item(n) for n in new], [item(n) for n in current])
        return {r.mechanism for r in rules}

    assert fetched(["drug one"], ["drug two", "drug three", "drug four", "drug five"]) == {
        "m12",
        "m31",
    }
    assert fetched(["drug four"], ["drug one", "drug two", "drug three"]) == {"m24", "m34"}
    assert fetched(["drug one", "drug two"], []) == {"m12"}
    assert fetched(["drug five"], ["drug one", "drug three"]) == set()
    assert fetched([], ["drug one", "drug two"]) == set()


def test_unknown_level_pairs_never_alert(
    tmp_path: Path, database: Database, kb: KnowledgeBase, make: Builders
) -> None:
    run_import(database, kb, "ddinter", write(tmp_path, "ddinter.csv", DDINTER))
    run_import(database, kb, "csv", write(tmp_path, "generic.csv", GENERIC))
    body = check(make, ["levothyroxine", "metformin"])
    assert body["findings"] == []
    assert body["unresolved"] == []


def test_imported_only_drug_is_resolved_and_checked(
    tmp_path: Path, database: Database, kb: KnowledgeBase, make: Builders
) -> None:
    before = check(make, ["abemaciclib", "ketoconazole"])
    assert [u["input"] for u in before["unresolved"]] == ["abemaciclib"]
    assert before["findings"] == []

    run_import(database, kb, "csv", write(tmp_path, "generic.csv", GENERIC))
    body = check(make, ["abemaciclib", "ketoconazole"])
    assert body["unresolved"] == []
    resolved = {r["input"]: r for r in body["resolved"]}
    assert resolved["abemaciclib"]["in_catalog"] is False
    assert resolved["abemaciclib"]["drug_id"] == "x:abemaciclib"
    assert resolved["ketoconazole"]["in_catalog"] is True
    assert len(body["findings"]) == 1
    finding = body["findings"][0]
    assert (finding["kind"], finding["severity"]) == ("drug-drug", "major")
    assert finding["mechanism"] == "CYP3A4 inhibition raises abemaciclib"
    assert finding["management"] == "Reduce the dose"
    assert [s["id"] for s in finding["sources"]] == ["import:csv:Label 2026"]
    # Case and spacing of the name do not matter.
    assert len(check(make, ["Abemaciclib ", "ketoconazole"])["findings"]) == 1


@pytest.mark.parametrize(
    ("fmt", "header", "missing"),
    [
        ("csv", "drug_a,drug_b,level", "severity"),
        ("ddinter", "DDInterID_A,Drug_A,DDInterID_B,Level", "Drug_B"),
    ],
)
def test_missing_columns_are_refused_and_nothing_is_stored(
    tmp_path: Path, database: Database, kb: KnowledgeBase, fmt: str, header: str, missing: str
) -> None:
    # A good file read first is not stored either: the run is all or nothing.
    good = write(tmp_path, "good.csv", GENERIC if fmt == "csv" else DDINTER)
    bad = write(tmp_path, "bad.csv", f"{header}\nsertraline,tramadol,major,x\n")
    with pytest.raises(ImportFormatError, match=missing):
        run_import(database, kb, fmt, good, bad)
    assert count(database, "imported_interactions") == 0
    assert count(database, "interaction_imports") == 0


@pytest.fixture
def env(database_url: str) -> dict[str, str]:
    return {
        "MEDTRACK_DATABASE_URL": database_url,
        "MEDTRACK_ARGON2_TIME_COST": "1",
        "MEDTRACK_ARGON2_MEMORY_KIB": "1024",
    }


def test_cli_import(
    tmp_path: Path, database: Database, kb: KnowledgeBase, env: dict[str, str]
) -> None:
    path = write(tmp_path, "ddinter.csv", DDINTER)
    args = ["interactions", "import", "--format", "ddinter", str(path)]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert "rows read:              6" in result.output
    assert "pairs stored:           4" in result.output
    assert "rows rejected:          1" in result.output
    assert "ddinter.csv:6: a drug name is empty" in result.output
    assert f"knowledge base version: {kb.version}+imports.1" in result.output
    assert count(database, "imported_interactions") == 4

    again = CliRunner().invoke(main, args, env=env)
    assert again.exit_code == 0, again.output
    assert f"knowledge base version: {kb.version}+imports.2" in again.output
    assert count(database, "imported_interactions") == 4


def test_cli_refuses_a_file_without_the_required_columns(
    tmp_path: Path, database: Database, env: dict[str, str]
) -> None:
    bad = write(tmp_path, "bad.csv", "drug_a,drug_b,level\nsertraline,tramadol,major\n")
    result = CliRunner().invoke(
        main, ["interactions", "import", "--format", "csv", str(bad)], env=env
    )
    assert result.exit_code != 0
    assert "severity" in result.output
    assert count(database, "imported_interactions") == 0
    assert count(database, "interaction_imports") == 0


# --- edge cases of import and screening ------------------------------------------------------


def test_a_rejected_row_names_its_line_after_a_blank_line(
    tmp_path: Path, database: Database, kb: KnowledgeBase
) -> None:
    path = write(
        tmp_path, "gaps.csv", "drug_a,drug_b,severity\nsertraline,tramadol,major\n\n,x,major\n"
    )
    summary = run_import(database, kb, "csv", path)
    assert [r.where for r in summary.rejected] == ["gaps.csv:4"]


def test_a_row_naming_one_ingredient_twice_is_reported(
    tmp_path: Path, database: Database, kb: KnowledgeBase
) -> None:
    path = write(tmp_path, "same.csv", "drug_a,drug_b,severity\nLexapro,escitalopram,major\n")
    summary = run_import(database, kb, "csv", path)
    assert summary.pairs_stored == 0
    assert [r.where for r in summary.rejected] == ["same.csv:2"]


def test_an_imported_rule_naming_a_combination_product_alerts(
    tmp_path: Path, database: Database, kb: KnowledgeBase, make: Builders
) -> None:
    assert check(make, ["Percocet", "levothyroxine"])["findings"] == []
    path = write(tmp_path, "combo.csv", "drug_a,drug_b,severity\nPercocet,levothyroxine,major\n")
    summary = run_import(database, kb, "csv", path)
    findings = check(make, ["Percocet", "levothyroxine"])["findings"]
    assert [(f["kind"], f["severity"]) for f in findings] == [("drug-drug", "major")]
    assert summary.unresolved_names == 0


def test_a_drug_known_only_to_an_import_still_needs_confirmation(
    tmp_path: Path, database: Database, kb: KnowledgeBase, make: Builders
) -> None:
    path = write(tmp_path, "unknown.csv", "drug_a,drug_b,severity\nfooximab,aspirin,unknown\n")
    run_import(database, kb, "csv", path)
    doc = make.clinician()
    pat = make.patient(doc)
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions",
        json=prescription_body(drug="fooximab"),
        headers=doc.headers,
    )
    assert r.status_code == 422, r.get_json()
    assert "confirm_unlisted" in " ".join(r.get_json()["errors"]["drug"])
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions",
        json=prescription_body(
            drug="fooximab", confirm_unlisted=True, unlisted_reason="trial protocol"
        ),
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    rx = r.get_json()
    assert (rx["screening"], rx["drug_id"], rx["ingredients"]) == ("partial", None, ["x:fooximab"])
    (partial,) = [f for f in rx["findings"] if f["kind"] == "partial-screening"]
    assert "imported interaction datasets" in partial["mechanism"]
    assert "dose range" in partial["mechanism"]
