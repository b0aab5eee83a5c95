"""Benchmark: materialising 48 hours of dose events for 100,000 prescriptions.

Builds a fresh, migrated database with N active prescriptions (100,000; 5,000 with
--quick) of 1-4 doses a day, for patients spread over twelve time zones, inserted in
bulk (not timed). Their terms are written at the fixed clock T0 and nothing is
planned yet, so the product's scheduler job `materialise_doses` (default policy:
48-hour horizon, plus the hour it plans ahead) writes every dose of the next 49 hours.
That call is timed, wall clock, as the scheduler makes it: a chunk of prescriptions
per transaction.

Checked afterwards: the dose events written are exactly those the schedules imply,
computed here independently of the product (for each prescription, each local day and
wall time converted to UTC; the window has no DST change in any of the zones, which is
also checked), prescription by prescription and instant by instant; and a second run
at the same instant writes nothing.

Target: at most 60 s for 100,000 prescriptions on PostgreSQL.

    .venv/bin/python -m bench.materialise [--quick] [--engine sqlite|postgresql|both]
                                           [--postgres-url URL] [--profile]

It is a benchmark, not a test: the exit status is 0 whether or not the target is met,
and non-zero only when something goes wrong (including a failed verification).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import random
import sys
import tempfile
import time
import uuid
import zoneinfo
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, func, select, update

from bench.common import (
    add_engine_arguments,
    backend_cpu_between,
    engines,
    fresh_database,
    machine_line,
    postgres_backend_cpu,
    print_profile,
    timed_methods,
    vacuum,
    verdict,
    warm,
)
from bench.seeding import (
    PRESCRIPTIONS_PER_PATIENT,
    SEED,
    T0,
    Seed,
    fixed_clock,
    random_regimen,
)
from service.db.planning import PlanningRepository
from service.db.tables import DoseEvent, Patient, Prescription
from service.db.uow import Database, UnitOfWork
from service.domain.accounts import Role
from service.domain.doses import DoseStatus
from service.domain.interactions import KnowledgeBase
from service.knowledge import load
from service.usecases.planning import PLAN_AHEAD, PLAN_CHUNK, materialise_doses
from service.usecases.reminders import ReminderPolicy

TARGET_PG_S = 60.0
POLICY = ReminderPolicy()  # the product's defaults: 48-hour horizon, chunks of PLAN_CHUNK
WINDOW_END = T0 + POLICY.horizon + PLAN_AHEAD
ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "UTC",
)

_PATIENTS: Table = Patient.__table__  # type: ignore[attr-defined]
_RX: Table = Prescription.__table__  # type: ignore[attr-defined]
_EVENTS: Table = DoseEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Sizes:
    prescriptions: int


FULL = Sizes(prescriptions=100_000)
QUICK = Sizes(prescriptions=5_000)


@dataclass(kw_only=True)
class Population:
    patients: int = 0
    prescriptions: int = 0
    # prescription id -> the UTC instants its schedule implies in [T0, WINDOW_END).
    expected: dict[uuid.UUID, set[dt.datetime]] = field(default_factory=dict)
    doses_per_day: Counter[int] = field(default_factory=Counter)
    zones: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def expected_rows(self) -> int:
        return sum(len(v) for v in self.expected.values())


@dataclass(kw_only=True)
class Run:
    label: str
    written: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    server_cpu_s: float | None = None
    breakdown: dict[str, float] = field(default_factory=dict)

    @property
    def per_s(self) -> float:
        return self.written / self.wall_s if self.wall_s else 0.0


@dataclass(kw_only=True)
class EngineResult:
    engine: str
    population: Population
    first: Run
    again: Run
    counted: int = 0
    problems: list[str] = field(default_factory=list)


# --- setup ---------------------------------------------------------------------------


def implied_instants(zone_name: str, times: tuple[dt.time, ...]) -> set[dt.datetime]:
    """The instants in [T0, WINDOW_END) of daily wall times in a zone without a DST
    change in the window: each local day's wall time, converted to UTC."""
    zone = zoneinfo.ZoneInfo(zone_name)
    first = T0.astimezone(zone).date() - dt.timedelta(days=1)
    last = WINDOW_END.astimezone(zone).date() + dt.timedelta(days=1)
    found = set()
    day = first
    while day <= last:
        for t in times:
            at = dt.datetime.combine(day, t, tzinfo=zone).astimezone(dt.UTC)
            if T0 <= at < WINDOW_END:
                found.add(at)
        day += dt.timedelta(days=1)
    return found


def check_no_dst_change() -> None:
    for name in ZONES:
        zone = zoneinfo.ZoneInfo(name)
        before = (T0 - dt.timedelta(days=2)).astimezone(zone).utcoffset()
        after = (WINDOW_END + dt.timedelta(days=2)).astimezone(zone).utcoffset()
        if before != after:
            raise RuntimeError(f"{name} changes its offset near the window; pick another T0")


def populate(db: Database, kb: KnowledgeBase, n: int) -> Population:
    """Patients with 1-4 prescriptions of 1-4 daily doses, n prescriptions in all,
    written at T0 and never planned. Bulk core inserts."""
    t0 = time.perf_counter()
    rng = random.Random(SEED)  # noqa: S311  (reproducible data, not security)
    drugs = sorted(kb.catalog.drugs.values(), key=lambda d: d.id)
    seed = Seed(at=T0)
    clinician = seed.user(Role.CLINICIAN)
    pop = Population()
    implied: dict[tuple[str, tuple[dt.time, ...]], set[dt.datetime]] = {}
    while seed.prescriptions < n:
        zone = ZONES[seed.patients % len(ZONES)]
        pop.zones[zone] += 1
        _, patient_id = seed.patient(zone, clinician=clinician)
        for _ in range(rng.choice(PRESCRIPTIONS_PER_PATIENT)):
            if seed.prescriptions >= n:
                break
            regimen = random_regimen(rng, drugs)
            pop.doses_per_day[len(regimen.times)] += 1
            start = (T0 - dt.timedelta(days=rng.randrange(0, 60))).date()
            rx_id = seed.prescription(patient_id, regimen, clinician=clinician, start=start)
            key = (zone, regimen.times)
            if key not in implied:
                implied[key] = implied_instants(zone, regimen.times)
            pop.expected[rx_id] = implied[key]
    seed.write(db)
    pop.patients = seed.patients
    pop.prescriptions = seed.prescriptions
    pop.seconds = time.perf_counter() - t0
    return pop


# The tables materialise_doses reads and writes.
_PLANNING_TABLES = ("prescriptions", "prescription_versions", "patients", "dose_events")


def unplan(db: Database) -> None:
    """Back to nothing planned, for the profiled run."""
    with db.engine.begin() as conn:
        conn.execute(delete(_EVENTS))
        conn.execute(update(_RX).values(planned_until=None))
    vacuum(db, *_PLANNING_TABLES)


# --- timing --------------------------------------------------------------------------

# Repository and unit-of-work methods whose time is added up during the first run
# (a few calls per chunk of PLAN_CHUNK prescriptions).
_TIMED: tuple[tuple[type[Any], str, str], ...] = (
    (PlanningRepository, "prescriptions_to_plan", "find due"),
    (PlanningRepository, "active_schedules", "load terms"),
    (PlanningRepository, "insert_events", "insert"),
    (PlanningRepository, "set_planned_until", "mark planned"),
    (UnitOfWork, "commit", "commit"),
)


def materialise(
    db: Database,
    kb: KnowledgeBase,
    label: str,
    *,
    breakdown: bool = False,
    profile: cProfile.Profile | None = None,
) -> Run:
    warm(db)
    run = Run(label=label)
    pg0 = postgres_backend_cpu(db)
    c0 = time.process_time()
    t0 = time.perf_counter()
    if profile:
        profile.enable()
    with timed_methods(_TIMED, run.breakdown) if breakdown else contextlib.nullcontext():
        run.written = materialise_doses(uow=db.uow(), clock=fixed_clock, kb=kb, policy=POLICY)
    if profile:
        profile.disable()
    run.wall_s = time.perf_counter() - t0
    run.cpu_s = time.process_time() - c0
    run.server_cpu_s = backend_cpu_between(pg0, postgres_backend_cpu(db))
    return run


# --- verification ---------------------------------------------------------------------


def verify(db: Database, pop: Population) -> tuple[int, list[str]]:
    """Dose events, prescription by prescription, against what the schedules imply;
    every prescription marked planned past the horizon."""
    problems: list[str] = []
    found: dict[uuid.UUID, set[dt.datetime]] = defaultdict(set)
    rows = 0
    bad_slot = 0
    zone_of = {}
    with db.engine.connect() as conn:
        zone_of = {r[0]: r[1] for r in conn.execute(select(_PATIENTS.c.id, _PATIENTS.c.timezone))}
        query = select(
            _EVENTS.c.prescription_id,
            _EVENTS.c.patient_id,
            _EVENTS.c.scheduled_at,
            _EVENTS.c.slot,
            _EVENTS.c.status,
            _EVENTS.c.timezone,
        )
        for rx_id, patient_id, at, slot, status, tz in conn.execute(query):
            rows += 1
            found[rx_id].add(at)
            if status != DoseStatus.PENDING or tz != zone_of.get(patient_id):
                problems.append(f"dose of {rx_id} at {at}: status {status}, zone {tz}")
            elif at.astimezone(zoneinfo.ZoneInfo(tz)).strftime("%H:%M") != slot:
                bad_slot += 1
        unplanned = conn.execute(
            select(func.count())
            .select_from(_RX)
            .where((_RX.c.planned_until.is_(None)) | (_RX.c.planned_until < WINDOW_END))
        ).scalar_one()
    if rows != pop.expected_rows:
        problems.append(f"{rows:,} dose events, the schedules imply {pop.expected_rows:,}")
    wrong = [rx for rx, instants in pop.expected.items() if found.get(rx, set()) != instants]
    if wrong:
        problems.append(f"{len(wrong):,} prescriptions with other doses than implied")
    extra = set(found) - set(pop.expected)
    if extra:
        problems.append(f"{len(extra):,} unknown prescriptions have doses")
    if bad_slot:
        problems.append(f"{bad_slot:,} doses whose local time is not their slot")
    if unplanned:
        problems.append(f"{unplanned:,} prescriptions not marked planned to the window's end")
    return rows, problems[:6]


# --- per engine ------------------------------------------------------------------------


def run_engine(engine: str, url: str, kb: KnowledgeBase, n: int, *, profile: bool) -> EngineResult:
    db = Database(url)
    try:
        print(f"[{engine}] inserting {n:,} prescriptions ...", flush=True)
        pop = populate(db, kb, n)
        vacuum(db, *_PLANNING_TABLES)
        print(
            f"[{engine}] setup: {pop.patients:,} patients, {pop.prescriptions:,} prescriptions,"
            f" {pop.expected_rows:,} dose events implied, in {pop.seconds:.1f} s (not timed)",
            flush=True,
        )
        print(f"[{engine}] materialise_doses ...", flush=True)
        first = materialise(db, kb, "first", breakdown=True)
        print(
            f"[{engine}] wrote {first.written:,} in {first.wall_s:.2f} s; verifying ...",
            flush=True,
        )
        counted, problems = verify(db, pop)
        if first.written != counted:
            problems.append(f"materialise_doses reported {first.written:,}, counted {counted:,}")
        again = materialise(db, kb, "again")
        if again.written:
            problems.append(f"a second run at the same instant wrote {again.written:,}")
        result = EngineResult(
            engine=engine,
            population=pop,
            first=first,
            again=again,
            counted=counted,
            problems=problems,
        )
        if profile:
            unplan(db)
            print(f"[{engine}] profiling materialise_doses ...", flush=True)
            prof = cProfile.Profile()
            run = materialise(db, kb, "profiled", profile=prof)
            print_profile(
                f"{engine}: materialise_doses of {n:,} prescriptions, {run.written:,} doses "
                f"({run.wall_s:.2f} s under the profiler)",
                prof,
            )
    finally:
        db.dispose()
    return result


# --- report ------------------------------------------------------------------------------


def report(results: list[EngineResult], sizes: Sizes, quick: bool) -> None:
    print()
    print(
        f"Materialisation benchmark: materialise_doses of {sizes.prescriptions:,} prescriptions,"
        f" {POLICY.horizon.total_seconds() / 3600:.0f}-hour horizon + "
        f"{PLAN_AHEAD.total_seconds() / 3600:.0f} h ahead, {PLAN_CHUNK:,} per transaction"
        f"{'  [quick]' if quick else ''}"
    )
    head = (
        f"{'engine':<11} {'rows':>9} {'wall s':>8} {'rows/s':>9} {'client CPU s':>12} "
        f"{'server CPU s':>12} {'target':>8} {'result':>6} {'again s':>8}  checks"
    )
    print(head)
    print("-" * len(head))
    for res in results:
        r = res.first
        if res.engine == "postgresql" and sizes == FULL:
            target, result = f"<={TARGET_PG_S:.0f} s", verdict(r.wall_s <= TARGET_PG_S)
        elif res.engine == "postgresql":
            scaled = TARGET_PG_S * sizes.prescriptions / FULL.prescriptions
            target, result = f"<={scaled:.0f} s", verdict(r.wall_s <= scaled)
        else:
            target, result = "-", "-"
        server = f"{r.server_cpu_s:.2f}" if r.server_cpu_s is not None else "-"
        checks = "ok" if not res.problems else "; ".join(res.problems)
        print(
            f"{res.engine:<11} {r.written:>9,} {r.wall_s:>8.2f} {r.per_s:>9,.0f} "
            f"{r.cpu_s:>12.2f} {server:>12} {target:>8} {result:>6} {res.again.wall_s:>8.2f}"
            f"  {checks}"
        )
    print()
    print("Where the time goes (s):")
    for res in results:
        r = res.first
        parts = ", ".join(f"{k} {v:.2f}" for k, v in r.breakdown.items())
        print(f"  {res.engine:<11} {parts}, rest {r.wall_s - sum(r.breakdown.values()):.2f}")
    print(
        "  (find due = the ids to plan; load terms = current versions and zones, FOR SHARE; "
        "insert = INSERT ... ON CONFLICT DO NOTHING; mark planned = UPDATE planned_until; "
        "rest = Python: dose times, ids and rows)"
    )
    ratios = {res.engine: res.first.wall_s for res in results}
    if "sqlite" in ratios and "postgresql" in ratios and ratios["sqlite"]:
        print(f"PostgreSQL / SQLite wall time: {ratios['postgresql'] / ratios['sqlite']:.2f}")
    print()
    print(
        f"Target: PostgreSQL, {FULL.prescriptions:,} prescriptions in <= {TARGET_PG_S:.0f} s "
        "(--quick: the same rate, scaled). 'client CPU s' = CPU of this process; 'server "
        "CPU s' = CPU of the PostgreSQL backends serving the benchmark's database "
        "meanwhile. 'again s' = a "
        "second run at the same instant (writes nothing). 'checks': every prescription's "
        "dose events are exactly the instants its schedule implies in the window (computed "
        "independently), in the patient's zone at the slot's local time, and the second "
        "run wrote nothing."
    )
    for res in results:
        p = res.population
        mix = ", ".join(f"{k}/day {v:,}" for k, v in sorted(p.doses_per_day.items()))
        print(
            f"  {res.engine}: setup {p.seconds:.1f} s (not timed): {p.patients:,} patients in "
            f"{len(p.zones)} zones, {p.prescriptions:,} prescriptions ({mix}), "
            f"{p.expected_rows:,} dose events implied"
        )
    print(machine_line())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.materialise", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="5,000 prescriptions instead of 100,000"
    )
    add_engine_arguments(parser)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after the timed runs, cProfile one more materialisation from nothing planned",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    check_no_dst_change()

    kb = load()
    results = []
    with tempfile.TemporaryDirectory(prefix="medtrack-bench-") as tmp_dir:
        for engine in engines(args):
            with fresh_database(engine, args.postgres_url, Path(tmp_dir)) as url:
                results.append(
                    run_engine(engine, url, kb, sizes.prescriptions, profile=args.profile)
                )
    report(results, sizes, args.quick)
    if any(res.problems for res in results):
        print("VERIFICATION FAILED: see 'checks' above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
