"""Benchmark: the clinicians' console, every page server-rendered, with the demo data
plus 1,000 patients.

For each engine, a fresh migrated database:

1. The demo accounts and the demo patients' regimen, through the use case `medtrack
   demo` runs (service.usecases.demo).
2. P more patients (1,000; 200 with --quick) on the demo clinician's care team, in
   eight time zones, each with 1-4 active prescriptions drawn by
   bench/seeding.py's `random_regimen` (bulk-inserted, as the product would have
   stored them), and D days of dose history before the planning window (90; 14 with
   --quick): taken on time, taken late, skipped or missed, so the charts' week and
   adherence pictures and the worklist's missed doses of withdrawal-risk drugs have
   data. The product's `materialise_doses` then plans the coming doses.
3. Through the JSON API, as the demo clinician: a diazepam taper for the first demo
   patient, drafted and approved with its flagged steps (a running plan).
4. The app in process under the Flask test client, with production settings (over
   https, as the runtime role on PostgreSQL), signed in through the console's sign-in
   form as the demo clinician (and, for the admin pages, the demo administrator).
   Each page and live fragment is requested N times (200; 30 with --quick) after a
   few warm-up requests: the worklist, the patients list and a search, two charts
   (the demo patient's, with its taper; a bench patient's, four prescriptions and
   their history), the prescribe form, the live check and the drug search (as htmx
   sends them), the taper planner and its live preview, the running plan's page and
   the admin pages. Timed with perf_counter around each request, from the WSGI call
   to the last byte of the body; the SQL statements each request runs are counted.

The baselines, measured in the same run with the same client: GET /livez (what Flask
and the test client cost by themselves) and the JSON API's read of the bench
patient's prescriptions (GET /v1/patients/<id>/prescriptions with a bearer token),
the work a chart starts from. Each page's p50 is printed as a ratio to that read's.

Target: every page server-rendered under 100 ms at p95. The network and
gunicorn are not in these figures: bench/api.py measures them for the JSON API.

    .venv/bin/python -m bench.console [--quick] [--engine sqlite|postgresql|both]
                                      [--postgres-url URL] [--requests N]
                                      [--profile PAGE ...]

It is a benchmark, not a test: the exit status is 0 whether or not the target is
met, and non-zero only when something goes wrong (an answer other than 200, or a
page without its heading).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import html.parser
import random
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, event
from sqlalchemy.engine import Engine
from werkzeug.test import TestResponse

from bench.common import (
    add_engine_arguments,
    engines,
    fresh_database,
    machine_line,
    percentile,
    print_profile,
    runtime_url,
    vacuum,
    verdict,
)
from bench.seeding import SEED, ZONES, Regimen, Seed, random_regimen
from service import create_app
from service.bootstrap import Runtime
from service.config import Settings
from service.db.tables import DoseEvent
from service.domain.catalog import Drug
from service.domain.doses import DoseStatus
from service.usecases import demo
from service.usecases.context import utc_now
from service.usecases.planning import materialise_doses
from service.usecases.reminders import ReminderPolicy

TARGET_P95_MS = 100.0
BASE = "https://localhost"
_DOSES: Table = DoseEvent.__table__  # type: ignore[attr-defined]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CHUNK = 5000
# How a past dose ended, with its weight: taken on time, taken late, skipped, missed.
OUTCOMES = (("on-time", 84), ("late", 5), ("skipped", 4), ("missed", 7))
# The planning window starts this long before now (the scheduler's catch-up); the
# history ends where it begins.
CATCH_UP = dt.timedelta(hours=25)


@dataclass(frozen=True)
class Sizes:
    patients: int
    history_days: int
    requests: int
    warmup: int


FULL = Sizes(patients=1_000, history_days=90, requests=200, warmup=10)
QUICK = Sizes(patients=200, history_days=14, requests=30, warmup=3)


# --- setup -------------------------------------------------------------------------------


@dataclass
class BenchPatient:
    user_id: uuid.UUID
    patient_id: uuid.UUID
    zone: str
    prescriptions: list[tuple[uuid.UUID, Regimen]] = field(default_factory=list)


@dataclass(kw_only=True)
class World:
    """What the pages are requested for."""

    demo_patient: uuid.UUID
    demo_diazepam: uuid.UUID
    demo_plan: uuid.UUID
    bench_patient: BenchPatient
    bench_rx: uuid.UUID
    patients: int = 0
    prescriptions: int = 0
    history: int = 0
    planned: int = 0
    seconds: float = 0.0


def settings_for(url: str) -> Settings:
    return Settings(
        env="production",
        database_url=url,
        secret_key=secrets.token_urlsafe(32),
        notifier="log",
        log_level="WARNING",
    )


def runtime_of(app: Flask) -> Runtime:
    return cast(Runtime, app.extensions["medtrack"])


def seed_patients(
    app: Flask, clinician: uuid.UUID, sizes: Sizes, rng: random.Random
) -> tuple[list[BenchPatient], Seed]:
    """P patients on the clinician's care team, each with 1-4 prescriptions."""
    services = runtime_of(app)
    drugs = sorted(services.knowledge.catalog.drugs.values(), key=lambda d: d.id)
    now = utc_now()
    seed = Seed(at=now - dt.timedelta(days=sizes.history_days + 10))
    out = []
    for i in range(sizes.patients):
        zone = ZONES[i % len(ZONES)]
        user_id, patient_id = seed.patient(zone, clinician=clinician)
        seed.care_team(patient_id, clinician)
        patient = BenchPatient(user_id, patient_id, zone)
        count = 4 if i == 0 else rng.choice((1, 2, 2, 3, 4))
        for drug in rng.sample(drugs, count):
            regimen = random_regimen(rng, drugs, drug=drug)
            rx_id = seed.prescription(
                patient_id,
                regimen,
                clinician=clinician,
                start=(now - dt.timedelta(days=sizes.history_days + 5)).date(),
            )
            patient.prescriptions.append((rx_id, regimen))
        out.append(patient)
    seed.write(services.db)
    return out, seed


def history_rows(
    patients: list[BenchPatient],
    drugs: Mapping[str, Drug],
    days: int,
    end: dt.datetime,
    rng: random.Random,
) -> Iterator[dict[str, Any]]:
    """Each prescription's doses over the `days` before `end`, each with an outcome."""
    labels = [o for o, _ in OUTCOMES]
    weights = [w for _, w in OUTCOMES]
    for p in patients:
        zone = ZoneInfo(p.zone)
        local_end = end.astimezone(zone).date()
        for rx_id, regimen in p.prescriptions:
            risky = drugs[regimen.drug_id].withdrawal_risk is not None
            for back in range(days, -1, -1):
                day = local_end - dt.timedelta(days=back)
                for t in regimen.times:
                    at = dt.datetime.combine(day, t, tzinfo=zone).astimezone(dt.UTC)
                    if at >= end:
                        continue
                    outcome = rng.choices(labels, weights)[0]
                    taken = outcome in ("on-time", "late")
                    delay = rng.randint(0, 40) if outcome == "on-time" else rng.randint(90, 300)
                    logged = at + dt.timedelta(minutes=delay)
                    status = DoseStatus.TAKEN if taken else DoseStatus(outcome)
                    yield {
                        "id": uuid.uuid4(),
                        "prescription_id": rx_id,
                        "patient_id": p.patient_id,
                        "version": 1,
                        "scheduled_at": at,
                        "timezone": p.zone,
                        "slot": t.strftime("%H:%M"),
                        "drug": regimen.drug_name,
                        "dose_amount": regimen.amount,
                        "dose_unit": "mg",
                        "withdrawal_risk": risky,
                        "prn": False,
                        "status": status,
                        "taken_at": logged if taken else None,
                        "skip_reason": "Felt unwell" if outcome == "skipped" else None,
                        "logged_by": p.user_id if outcome != "missed" else None,
                        "logged_at": logged if outcome != "missed" else None,
                        "snoozes": 0,
                        "care_team_notified_at": at + dt.timedelta(hours=2)
                        if outcome == "missed"
                        else None,
                        "created_at": at - dt.timedelta(days=2),
                        "updated_at": logged,
                    }


def write_history(engine: Engine, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    chunk: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in rows:
            chunk.append(row)
            if len(chunk) == _CHUNK:
                conn.execute(_DOSES.insert(), chunk)
                count += len(chunk)
                chunk = []
        if chunk:
            conn.execute(_DOSES.insert(), chunk)
            count += len(chunk)
    return count


def api_json(client: FlaskClient, method: str, path: str, token: str, body: Any = None) -> Any:
    r = client.open(
        path,
        method=method,
        json=body,
        base_url=BASE,
        headers={"Authorization": f"Bearer {token}"},
    )
    if r.status_code not in (200, 201):
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.get_data(as_text=True)[:500]}")
    return r.get_json()


def api_token(client: FlaskClient, email: str, password: str) -> str:
    r = client.post("/v1/auth/token", json={"email": email, "password": password}, base_url=BASE)
    if r.status_code != 200:
        raise RuntimeError(f"login as {email}: {r.status_code} {r.get_data(as_text=True)}")
    return str(r.get_json()["access_token"])


def taper(client: FlaskClient, token: str, patient: uuid.UUID, rx: uuid.UUID, dose: float) -> Any:
    start = (utc_now() + dt.timedelta(days=2)).date().isoformat()
    body = {
        "start_dose_mg": dose,
        "algorithm": {"kind": "percent", "percent": 25},
        "start_date": start,
    }
    return api_json(
        client, "POST", f"/v1/patients/{patient}/prescriptions/{rx}/taper-plans", token, body
    )


def build_world(app: Flask, sizes: Sizes) -> World:
    t0 = time.perf_counter()
    services = runtime_of(app)
    demo.seed(
        uow=services.db.uow,
        clock=services.clock,
        passwords=services.passwords,
        policy=services.login_policy,
    )
    client = app.test_client()
    email, password, _ = demo.CLINICIAN
    token = api_token(client, email, password)
    me = api_json(client, "GET", "/v1/me", token)
    clinician = uuid.UUID(me["id"])
    rng = random.Random(SEED)  # noqa: S311  (reproducible data, not security)
    patients, seed = seed_patients(app, clinician, sizes, rng)
    history = write_history(
        services.db.engine,
        history_rows(
            patients,
            services.knowledge.catalog.drugs,
            sizes.history_days,
            utc_now() - CATCH_UP,
            rng,
        ),
    )
    planned = materialise_doses(
        uow=services.db.uow(), clock=utc_now, kb=services.knowledge, policy=ReminderPolicy()
    )
    # The first demo patient's diazepam: a taper drafted, then approved with every
    # flagged step and every note that needs approval.
    listed = api_json(client, "GET", "/v1/patients?limit=100", token)
    alex = next(p for p in listed if p["name"] == demo.PATIENTS[0][2])
    regimen = api_json(client, "GET", f"/v1/patients/{alex['id']}/prescriptions", token)
    diazepam = next(rx for rx in regimen if rx["drug"] == "diazepam")
    plan = taper(client, token, alex["id"], diazepam["id"], 10)
    approval = {
        "approve_flagged": [
            i for i, s in enumerate(plan["steps"]) if "exceeds_cap_needs_approval" in s["flags"]
        ],
        "acknowledge": [n["code"] for n in plan["notes"] if n.get("needs_approval")],
    }
    api_json(client, "POST", f"/v1/taper-plans/{plan['id']}/approve", token, approval)
    first = patients[0]
    return World(
        demo_patient=uuid.UUID(alex["id"]),
        demo_diazepam=uuid.UUID(diazepam["id"]),
        demo_plan=uuid.UUID(plan["id"]),
        bench_patient=first,
        bench_rx=first.prescriptions[0][0],
        patients=seed.patients,
        prescriptions=seed.prescriptions,
        history=history,
        planned=planned,
        seconds=time.perf_counter() - t0,
    )


# --- the console's forms, as a browser would send them -----------------------------------


class FormFields(html.parser.HTMLParser):
    """The fields of the form whose action ends with `action`, with their values as
    the page renders them (text inputs, checked boxes, selected options, textareas)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._first_option: str | None = None
        self._chosen = False
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action", "").split("?")[0].endswith(self.action)
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button"):
                self.fields.append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._first_option, self._chosen = name, None, False
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a and not self._chosen:
                self.fields.append((self._select, value))
                self._chosen = True
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields.append((name, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.fields.pop()
            self.fields.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            if not self._chosen and self._first_option is not None:
                self.fields.append((self._select, self._first_option))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def form_of(page: str, action: str, **changes: str) -> dict[str, str]:
    parser = FormFields(action)
    parser.feed(page)
    if not parser.fields:
        raise RuntimeError(f"no form posting to ...{action} on the page")
    out = dict(parser.fields)
    out.update(changes)
    return out


# --- requests ----------------------------------------------------------------------------


class Browser:
    """A signed-in console session: the cookie, the CSRF token, the Referer that
    Flask-WTF checks over https."""

    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()
        self.token = ""

    def get(self, path: str, *, htmx: bool = False) -> TestResponse:
        headers = {"Referer": f"{BASE}/console/"}
        if htmx:
            headers |= {"HX-Request": "true", "X-CSRFToken": self.token}
        r = self.client.get(path, base_url=BASE, headers=headers)
        found = _CSRF.search(r.get_data(as_text=True))
        if found:
            self.token = found.group(1)
        return r

    def post(self, path: str, data: dict[str, str], *, htmx: bool = False) -> TestResponse:
        headers = {"Referer": f"{BASE}/console/", "X-CSRFToken": self.token}
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(path, data=data, base_url=BASE, headers=headers)

    def sign_in(self, email: str, password: str) -> None:
        self.get("/console/login")
        r = self.post(
            "/console/login", {"csrf_token": self.token, "email": email, "password": password}
        )
        if r.status_code != 302:
            raise RuntimeError(f"console sign-in as {email}: {r.status_code}")
        self.get("/console/")


@dataclass(frozen=True)
class Target:
    name: str
    what: str
    send: Callable[[], TestResponse]
    page: bool = True
    baseline: bool = False


@dataclass
class Result:
    target: Target
    latencies: list[float] = field(default_factory=list)
    statements: int = 0
    failures: list[str] = field(default_factory=list)
    profiled: bool = False


def targets(app: Flask, world: World) -> list[Target]:
    doc, admin = Browser(app), Browser(app)
    doc.sign_in(*demo.CLINICIAN[:2])
    admin.sign_in(*demo.ADMIN[:2])
    api = app.test_client()
    token = api_token(api, *demo.CLINICIAN[:2])
    bench = world.bench_patient.patient_id
    alex = world.demo_patient
    chart = f"/console/patients/{bench}"
    prescribe = doc.get(f"{chart}/prescribe").get_data(as_text=True)
    check = form_of(
        prescribe,
        f"{chart}/prescribe",
        **{"drug": "diazepam", "dose.amount": "5", "schedule.times": "08:00, 20:00"},
    )
    planner_path = f"/console/patients/{alex}/tapers/new?prescription={world.demo_diazepam}"
    planner = doc.get(planner_path).get_data(as_text=True)
    preview = form_of(planner, f"/console/patients/{alex}/tapers")
    preview_path = f"/console/patients/{alex}/tapers/preview"
    zone = re.search(r"/tapers/preview\?tz=([^\"&]+)", planner)
    if zone:
        preview_path += f"?tz={zone.group(1)}"

    def auth_get(path: str) -> Callable[[], TestResponse]:
        headers = {"Authorization": f"Bearer {token}"}
        return lambda: api.get(path, base_url=BASE, headers=headers)

    return [
        Target("livez", "GET /livez", lambda: api.get("/livez", base_url=BASE), False, True),
        Target(
            "api-prescriptions",
            "GET /v1/patients/<id>/prescriptions (JSON)",
            auth_get(f"/v1/patients/{bench}/prescriptions"),
            False,
            True,
        ),
        Target("worklist", "GET /console/", lambda: doc.get("/console/")),
        Target("patients", "GET /console/patients", lambda: doc.get("/console/patients")),
        Target(
            "patients-search",
            "GET /console/patients?q=bench-patient-1 (htmx)",
            lambda: doc.get("/console/patients?q=bench-patient-1", htmx=True),
            False,
        ),
        Target(
            "chart-demo",
            "GET chart, demo patient with a taper",
            lambda: doc.get(f"/console/patients/{alex}"),
        ),
        Target("chart-history", "GET chart, 4 prescriptions with history", lambda: doc.get(chart)),
        Target("prescribe", "GET prescribe form", lambda: doc.get(f"{chart}/prescribe")),
        Target(
            "prescribe-check",
            "POST live check, diazepam (htmx)",
            lambda: doc.post(f"{chart}/prescribe/check", check, htmx=True),
            False,
        ),
        Target(
            "drug-search",
            "GET /console/drugs?q=valum (htmx)",
            lambda: doc.get("/console/drugs?q=valum", htmx=True),
            False,
        ),
        Target("taper-planner", "GET taper planner", lambda: doc.get(planner_path)),
        Target(
            "taper-preview",
            "POST taper preview (htmx)",
            lambda: doc.post(preview_path, preview, htmx=True),
            False,
        ),
        Target(
            "taper-plan",
            "GET running plan",
            lambda: doc.get(f"/console/patients/{alex}/tapers/{world.demo_plan}"),
        ),
        Target(
            "admin-staff", "GET /console/admin/staff", lambda: admin.get("/console/admin/staff")
        ),
        Target(
            "admin-care-teams",
            "GET /console/admin/care-teams",
            lambda: admin.get("/console/admin/care-teams"),
        ),
    ]


def problem(target: Target, r: TestResponse) -> str | None:
    body = r.get_data(as_text=True)
    if r.status_code != 200:
        return f"{target.name}: {r.status_code} {body[:300]}"
    if target.page and "<h1" not in body:
        return f"{target.name}: a page without an h1"
    if not body.strip():
        return f"{target.name}: an empty answer"
    return None


@contextlib.contextmanager
def counting(engine: Engine) -> Iterator[list[int]]:
    count = [0]

    def before(*_: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", before)


def measure(app: Flask, target: Target, sizes: Sizes, profile: cProfile.Profile | None) -> Result:
    result = Result(target, profiled=profile is not None)
    for _ in range(sizes.warmup):
        found = problem(target, target.send())
        if found:
            result.failures.append(found)
            return result
    engine = runtime_of(app).db.engine
    with counting(engine) as count:
        for _ in range(sizes.requests):
            if profile is not None:
                profile.enable()
            t0 = time.perf_counter()
            r = target.send()
            r.get_data()
            elapsed = time.perf_counter() - t0
            if profile is not None:
                profile.disable()
            result.latencies.append(elapsed * 1000.0)
            found = problem(target, r)
            if found and len(result.failures) < 3:
                result.failures.append(found)
    result.statements = count[0]
    return result


def report(engine: str, world: World, sizes: Sizes, results: list[Result]) -> None:
    api = next(r for r in results if r.target.name == "api-prescriptions")
    api_p50 = percentile(api.latencies, 50) if api.latencies else 0.0
    print(
        f"\n[{engine}] console pages: demo data plus {world.patients:,} patients "
        f"({world.prescriptions:,} prescriptions, {world.history:,} past doses over "
        f"{sizes.history_days} days, {world.planned:,} planned), set up in "
        f"{world.seconds:.1f} s; {sizes.requests} requests per page after {sizes.warmup} "
        "warm-up, in process (Flask test client, production settings)"
    )
    head = (
        f"  {'page':<18} {'what':<46} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'SQL/req':>7} {'p50/API':>7}  p95<={TARGET_P95_MS:.0f} ms"
    )
    print(head)
    for r in results:
        if not r.latencies:
            print(f"  {r.target.name:<18} {r.target.what:<46} ERROR {r.failures[0]}")
            continue
        p50, p95 = percentile(r.latencies, 50), percentile(r.latencies, 95)
        ratio = f"{p50 / api_p50:.1f}x" if api_p50 else "-"
        mark = "(baseline)" if r.target.baseline else verdict(p95 <= TARGET_P95_MS)
        if r.profiled:
            mark += " (profiled: slower)"
        print(
            f"  {r.target.name:<18} {r.target.what:<46} {p50:7.1f} {p95:7.1f} "
            f"{max(r.latencies):7.1f} {r.statements / len(r.latencies):7.1f} {ratio:>7}  {mark}"
        )
    measured = [r for r in results if not r.target.baseline and r.latencies]
    met = sum(percentile(r.latencies, 95) <= TARGET_P95_MS for r in measured)
    print(f"  target met by {met} of {len(measured)} pages and fragments")


def run_engine(engine: str, args: argparse.Namespace, sizes: Sizes, directory: Path) -> list[str]:
    failures: list[str] = []
    with (
        fresh_database(engine, args.postgres_url, directory) as url,
        runtime_url(url) as serve_url,
    ):
        app = create_app(settings_for(serve_url))
        try:
            print(f"[{engine}] seeding ...", flush=True)
            world = build_world(app, sizes)
            vacuum(runtime_of(app).db)
            results = []
            for target in targets(app, world):
                profile = cProfile.Profile() if target.name in args.profile else None
                result = measure(app, target, sizes, profile)
                results.append(result)
                failures += result.failures
                if profile is not None:
                    print_profile(f"{engine} {target.name}", profile)
            report(engine, world, sizes, results)
        finally:
            runtime_of(app).db.dispose()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 patients, 30 requests a page")
    add_engine_arguments(parser)
    parser.add_argument("--requests", type=int, help="requests per page (after warm-up)")
    parser.add_argument(
        "--profile",
        metavar="PAGE",
        action="append",
        default=[],
        help="cProfile this page's requests (repeatable)",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.requests:
        sizes = Sizes(sizes.patients, sizes.history_days, args.requests, sizes.warmup)
    failures: list[str] = []
    for engine in engines(args):
        with tempfile.TemporaryDirectory() as tmp:
            failures += run_engine(engine, args, sizes, Path(tmp))
    print(machine_line())
    if failures:
        print("\nFAILED: " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
