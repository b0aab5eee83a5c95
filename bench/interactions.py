"""Benchmark: imported interaction store, import time and per-check latency.

Builds a synthetic DDInter-format dataset (250,000 distinct pairs over 2,000 drug
names; 25,000 pairs with --quick), imports it into a fresh, migrated database with
the product's `import_interactions`, then times the in-process check the product
runs when a clinician adds one drug to a 15-drug regimen: resolve the new name,
fetch the imported pairs between the new drug and the 16, run the domain check.

Targets: import of 250,000 pairs <= 30 s on SQLite; check p50 <= 2 ms and
p99 <= 10 ms, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.interactions [--quick] [--engine sqlite|postgresql|both]
                                            [--postgres-url URL] [--profile] [--vacuum]

It is a benchmark, not a test: the exit status is 0 whether or not a target is met,
and non-zero only when something goes wrong.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    add_engine_arguments,
    engines,
    fresh_database,
    machine_line,
    percentile,
    print_profile,
    verdict,
)
from service.db.uow import Database
from service.domain.catalog import Resolved
from service.domain.interactions import Item, KnowledgeBase, check
from service.knowledge import load
from service.usecases.context import SYSTEM, utc_now
from service.usecases.imports import import_interactions
from service.usecases.interactions import imported_rules, resolve_name

SEED = 42
DRUGS = 2000
REGIMEN = 15
WARMUP = 20
LEVELS = ("Major", "Moderate", "Minor", "Unknown")

TARGET_IMPORT_S = 30.0
TARGET_IMPORT_PAIRS = 250_000
TARGET_P50_MS = 2.0
TARGET_P99_MS = 10.0


@dataclass(frozen=True)
class Sizes:
    pairs: int
    scenarios: int


FULL = Sizes(pairs=250_000, scenarios=200)
QUICK = Sizes(pairs=25_000, scenarios=50)


@dataclass(kw_only=True)
class Result:
    engine: str
    pairs_in_file: int = 0
    rows_read: int = 0
    pairs_stored: int = 0
    rejected: int = 0
    vacuumed: bool = False
    import_s: float = 0.0
    kb_version: str = ""
    check_ms: list[float] = field(default_factory=list)
    resolve_ms: list[float] = field(default_factory=list)
    query_ms: list[float] = field(default_factory=list)
    domain_ms: list[float] = field(default_factory=list)
    findings: list[int] = field(default_factory=list)
    rules: list[int] = field(default_factory=list)


# --- synthetic data ---------------------------------------------------------------


def drug_names(kb: KnowledgeBase) -> list[str]:
    """Every catalog ingredient name, then synthetic names up to DRUGS."""
    names = sorted({d.name for d in kb.catalog.drugs.values()})
    i = 0
    while len(names) < DRUGS:
        i += 1
        names.append(f"benchdrug-{i:04d}")
    return names[:DRUGS]


def write_dataset(path: Path, names: list[str], pairs: int) -> int:
    """`pairs` distinct unordered pairs with random levels, as a DDInter CSV."""
    rng = random.Random(SEED)  # noqa: S311  (reproducible data, not security)
    n = len(names)
    if pairs > n * (n - 1) // 2:
        raise ValueError(f"{pairs} pairs do not fit among {n} drugs")
    seen: set[tuple[int, int]] = set()
    with path.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["DDInterID_A", "Drug_A", "DDInterID_B", "Drug_B", "Level"])
        while len(seen) < pairs:
            a, b = rng.randrange(n), rng.randrange(n)
            if a == b:
                continue
            key = (a, b) if a < b else (b, a)
            if key in seen:
                continue
            seen.add(key)
            out.writerow(
                [f"DDInter{a + 1}", names[a], f"DDInter{b + 1}", names[b], rng.choice(LEVELS)]
            )
    return len(seen)


def scenarios(names: list[str], count: int, seed: int) -> list[tuple[str, list[str]]]:
    """(new drug, regimen of REGIMEN others), all distinct, drawn from `names`."""
    rng = random.Random(seed)  # noqa: S311
    out = []
    for _ in range(count):
        picked = rng.sample(names, REGIMEN + 1)
        out.append((picked[0], picked[1:]))
    return out


# --- measurements -------------------------------------------------------------------


def regimen_items(db: Database, kb: KnowledgeBase, names: list[str]) -> list[Item]:
    """The regimen as the product holds it: ingredients stored on each prescription."""
    items = []
    with db.uow() as uow:
        for j, name in enumerate(names):
            r = resolve_name(uow, kb, name)
            if not isinstance(r, Resolved):
                raise RuntimeError(f"regimen drug {name!r} did not resolve")
            items.append(
                Item(
                    input=r.input, name=r.name, ingredients=r.ingredients, prescription_id=f"rx{j}"
                )
            )
    return items


def one_check(
    db: Database, kb: KnowledgeBase, new_name: str, regimen: list[Item]
) -> tuple[float, float, float, float, int, int]:
    """Total, resolve, query, domain seconds; findings; imported rules fetched."""
    t0 = time.perf_counter()
    with db.uow().read_only() as uow:
        t1 = time.perf_counter()
        r = resolve_name(uow, kb, new_name)
        if not isinstance(r, Resolved):
            raise RuntimeError(f"new drug {new_name!r} did not resolve")
        item = Item(input=r.input, name=r.name, ingredients=r.ingredients)
        t2 = time.perf_counter()
        rules = imported_rules(uow, [item], regimen)
        t3 = time.perf_counter()
        findings = check(kb, new=[item], current=regimen, imported=rules)
        t4 = time.perf_counter()
    t5 = time.perf_counter()
    return t5 - t0, t2 - t1, t3 - t2, t4 - t3, len(findings), len(rules)


def run_engine(
    engine: str,
    url: str,
    kb: KnowledgeBase,
    dataset: Path,
    pairs_in_file: int,
    cases: list[tuple[str, list[str]]],
    warmup: list[tuple[str, list[str]]],
    *,
    profile: bool,
    vacuum: bool,
) -> Result:
    result = Result(engine=engine, pairs_in_file=pairs_in_file)
    db = Database(url)
    try:
        print(f"[{engine}] importing {pairs_in_file:,} pairs ...", flush=True)
        prof = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        summary = import_interactions(
            uow=db.uow(),
            caller=SYSTEM,
            clock=utc_now,
            kb=kb,
            fmt="ddinter",
            paths=[dataset],
        )
        if prof:
            prof.disable()
        result.import_s = time.perf_counter() - t0
        if prof:
            print_profile(f"{engine}: import", prof)
        result.rows_read = summary.rows_read
        result.pairs_stored = summary.pairs_stored
        result.kb_version = summary.knowledge_base_version
        result.rejected = len(summary.rejected)
        if summary.rejected:
            print(
                f"[{engine}] warning: {len(summary.rejected)} rows rejected, e.g. "
                f"{summary.rejected[:3]}",
                flush=True,
            )

        if vacuum and engine == "postgresql":
            # What autovacuum does some time after a bulk import (the import itself
            # only analyses): it also sets the visibility map for index-only scans.
            print(f"[{engine}] VACUUM ANALYZE imported_interactions (not timed) ...", flush=True)
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE imported_interactions"
                )
            result.vacuumed = True

        prepared = [(new, regimen_items(db, kb, reg)) for new, reg in cases]
        for new, reg in warmup:
            one_check(db, kb, new, regimen_items(db, kb, reg))

        print(f"[{engine}] timing {len(prepared)} checks ...", flush=True)
        prof = cProfile.Profile() if profile else None
        for new, regimen in prepared:
            if prof:
                prof.enable()
            total, res, query, dom, nfind, nrules = one_check(db, kb, new, regimen)
            if prof:
                prof.disable()
            result.check_ms.append(total * 1000)
            result.resolve_ms.append(res * 1000)
            result.query_ms.append(query * 1000)
            result.domain_ms.append(dom * 1000)
            result.findings.append(nfind)
            result.rules.append(nrules)
        if prof:
            print_profile(f"{engine}: checks (profiled run; timings above include overhead)", prof)
    finally:
        db.dispose()
    return result


# --- report -------------------------------------------------------------------------


def report(results: list[Result], sizes: Sizes, quick: bool) -> None:
    print()
    print(
        f"Interaction benchmark: {DRUGS:,} drugs, {sizes.pairs:,} pairs in the file, "
        f"{sizes.scenarios} checks of 1 new drug against {REGIMEN} "
        f"(after {WARMUP} warm-up){'  [quick]' if quick else ''}"
    )
    head = (
        f"{'engine':<11} {'pairs stored':>12} {'import s':>9} {'rows/s':>9} {'import':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'p50':>5} {'p99':>5} "
        f"{'findings':>8} {'rules':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        if r.engine == "sqlite" and not quick and r.pairs_in_file >= TARGET_IMPORT_PAIRS:
            imp = verdict(r.import_s <= TARGET_IMPORT_S)
        else:
            imp = "n/a"
        p50, p99 = percentile(r.check_ms, 50), percentile(r.check_ms, 99)
        print(
            f"{r.engine:<11} {r.pairs_stored:>12,} {r.import_s:>9.2f} "
            f"{r.rows_read / r.import_s:>9,.0f} {imp:>7} "
            f"{p50:>7.3f} {p99:>7.3f} {max(r.check_ms):>7.3f} "
            f"{verdict(p50 <= TARGET_P50_MS):>5} {verdict(p99 <= TARGET_P99_MS):>5} "
            f"{statistics.mean(r.findings):>8.2f} {statistics.mean(r.rules):>6.2f}"
        )
    print()
    print("Check breakdown (ms, p50 / p99):")
    for r in results:
        parts = (
            ("resolve new name", r.resolve_ms),
            ("imported-pair query", r.query_ms),
            ("domain check", r.domain_ms),
        )
        text = ", ".join(
            f"{label} {percentile(v, 50):.3f} / {percentile(v, 99):.3f}" for label, v in parts
        )
        print(f"  {r.engine:<11} {text}")
    print()
    print(
        f"Targets: import <= {TARGET_IMPORT_S:.0f} s for {TARGET_IMPORT_PAIRS:,} pairs on SQLite "
        f"(n/a in quick mode and on PostgreSQL); check p50 <= {TARGET_P50_MS:g} ms, "
        f"p99 <= {TARGET_P99_MS:g} ms. 'findings' = findings per check (mean); "
        "'rules' = imported rules fetched per check (mean)."
    )
    for r in results:
        print(
            f"  {r.engine}: {r.rows_read:,} rows read, {r.rejected} rejected; knowledge base "
            f"version after import {r.kb_version}"
            + ("; checks timed after VACUUM ANALYZE" if r.vacuumed else "")
        )
    print(machine_line())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.interactions", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="25,000 pairs and 50 checks")
    add_engine_arguments(parser)
    parser.add_argument("--profile", action="store_true", help="cProfile the import and the checks")
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="PostgreSQL: run VACUUM ANALYZE (untimed) between the import and the checks; "
        "by default the checks run straight after the import, which analyses the table",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL

    kb = load()
    names = drug_names(kb)
    cases = scenarios(names, sizes.scenarios, SEED + 1)
    warmup = scenarios(names, WARMUP, SEED + 2)
    results = []
    with tempfile.TemporaryDirectory(prefix="medtrack-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        dataset = tmp / "ddinter_bench.csv"
        t0 = time.perf_counter()
        written = write_dataset(dataset, names, sizes.pairs)
        print(
            f"dataset: {written:,} pairs over {len(names):,} drugs "
            f"({sum(1 for n in names if not n.startswith('benchdrug-'))} catalog), "
            f"written in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        for engine in engines(args):
            with fresh_database(engine, args.postgres_url, tmp) as url:
                results.append(
                    run_engine(
                        engine,
                        url,
                        kb,
                        dataset,
                        written,
                        cases,
                        warmup,
                        profile=args.profile,
                        vacuum=args.vacuum,
                    )
                )
    report(results, sizes, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
