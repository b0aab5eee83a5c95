"""The committed openapi.yaml is usable by a code generator, not only valid: a Python
client generated from it with openapi-python-client drives the patient's walk against
a real HTTP server on the test database, through its typed functions and models.

The walk: a clinician enrols a patient; the patient activates the account, logs in,
reads today's doses, logs one taken, logs an as-needed dose and reports withdrawal
symptoms on their taper plan.
"""

from __future__ import annotations

import datetime as dt
import importlib
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.config import Settings
from tests.api.test_taper_plans import approval, taper
from tests.conftest import PASSWORD, Account, Builders, FrozenClock, settings_for

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
# A bare package (no pyproject of its own) written where the test imports it from.
OPTIONS = ("--meta", "none", "--output-path")
PACKAGE = "medtrack_client"
# No formatter hooks: the test must not depend on tools the generator would call.
CONFIG = (
    f"post_hooks: []\nproject_name_override: medtrack-client\npackage_name_override: {PACKAGE}\n"
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url, token_ttl_seconds=30 * 86400)


@pytest.fixture
def generated(tmp_path: Path) -> Iterator[Any]:
    """The client package generated from the committed spec, imported."""
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    assert generator, "openapi-python-client is a dev dependency (pyproject.toml)"
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    out = tmp_path / PACKAGE
    done = subprocess.run(  # noqa: S603
        [generator, "generate", "--path", str(SPEC), "--config", str(config), *OPTIONS, str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _call(operation: str, tag: str, **kwargs: Any) -> Any:
    """Call the typed function for `operation` and return its parsed answer."""
    response = _module(f"api.{tag}.{operation}").sync_detailed(**kwargs)
    assert 200 <= response.status_code < 300, (operation, response.status_code, response.content)
    return response.parsed


def _prescribe(make: Builders, doctor: Account, patient_id: str, **body: Any) -> dict[str, Any]:
    r = make.client.post(
        f"/v1/patients/{patient_id}/prescriptions", json=body, headers=doctor.headers
    )
    assert r.status_code == 201, r.json
    return r.json  # type: ignore[return-value]


def _regimen(make: Builders, doctor: Account, patient_id: str) -> tuple[str, str]:
    """Diazepam twice a day under an approved taper plan, and ibuprofen as needed."""
    diazepam = _prescribe(
        make,
        doctor,
        patient_id,
        drug="diazepam",
        dose={"amount": 10, "unit": "mg"},
        route="oral",
        schedule={"times": ["08:00", "20:00"], "as_needed": False},
        start_date="2026-06-01",
    )
    ibuprofen = _prescribe(
        make,
        doctor,
        patient_id,
        drug="ibuprofen",
        dose={"amount": 400, "unit": "mg"},
        route="oral",
        schedule={"times": [], "as_needed": True, "max_doses_per_day": 3, "min_hours_between": 4},
        start_date="2026-06-01",
    )
    r = make.client.post(
        f"/v1/patients/{patient_id}/prescriptions/{diazepam['id']}/taper-plans",
        json=taper(),
        headers=doctor.headers,
    )
    assert r.status_code == 201, r.json
    plan: dict[str, Any] = r.json  # type: ignore[assignment]
    r = make.client.post(
        f"/v1/taper-plans/{plan['id']}/approve", json=approval(plan), headers=doctor.headers
    )
    assert r.status_code == 200, r.json
    return diazepam["id"], ibuprofen["id"]


def test_the_generated_client_walks_the_patient_through_their_day(
    generated: Any, base_url: str, make: Builders, clock: FrozenClock
) -> None:
    # 07:30 in London (BST) when the clinician enrols and prescribes.
    clock.now = dt.datetime(2026, 6, 10, 6, 30, tzinfo=dt.UTC)
    models = _module("models")
    anonymous = generated.Client(base_url=base_url, raise_on_unexpected_status=True)
    doctor = make.clinician()

    # The clinician, through the client too: log in and enrol the patient.
    token = _call(
        "log_in",
        "auth",
        client=anonymous,
        body=models.TokenRequest(email=doctor.email, password=PASSWORD),
    )
    as_doctor = generated.AuthenticatedClient(base_url=base_url, token=token.access_token)
    enrolment = _call(
        "enrol_patient",
        "patients",
        client=as_doctor,
        body=models.PatientCreate(
            name="Jo Patel",
            email="jo.patel@example.org",
            timezone="Europe/London",
            date_of_birth=dt.date(1979, 6, 2),
        ),
    )

    # The patient's app: activate the account, log in.
    me = _call(
        "activate_account",
        "auth",
        client=anonymous,
        body=models.Activate(activation_code=enrolment.activation_code, password=PASSWORD),
    )
    patient_id = str(me.patient_id)
    _, ibuprofen = _regimen(make, doctor, patient_id)
    # 08:10: the 08:00 diazepam dose is due.
    clock.now = dt.datetime(2026, 6, 10, 7, 10, tzinfo=dt.UTC)
    session = _call(
        "log_in",
        "auth",
        client=anonymous,
        body=models.TokenRequest(email="jo.patel@example.org", password=PASSWORD),
    )
    app = generated.AuthenticatedClient(base_url=base_url, token=session.access_token)

    # Today's doses: diazepam at 08:00 and 20:00 local, typed.
    today = _call("list_today_doses", "doses", client=app)
    assert today.date == dt.date(2026, 6, 10)
    assert [(d.drug, d.local_time.hour) for d in today.doses] == [("diazepam", 8), ("diazepam", 20)]
    first = today.doses[0]
    assert isinstance(first.id, uuid.UUID)
    assert first.scheduled_at == dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)

    # Log the morning dose taken (now, by default).
    taken = _call("log_dose_taken", "doses", dose_id=first.id, client=app, body=models.Taken())
    assert (taken.id, taken.status.value) == (first.id, "taken")
    assert taken.taken_at == clock.now

    # An as-needed ibuprofen.
    prn = _call(
        "log_prn_dose",
        "doses",
        patient_id=uuid.UUID(patient_id),
        rx_id=uuid.UUID(ibuprofen),
        client=app,
        body=models.Taken(),
    )
    assert (prn.drug, prn.prn, prn.status.value) == ("ibuprofen", True, "taken")

    # Withdrawal symptoms on the taper plan, found from the patient's own list.
    plans = _module("api.tapers.list_my_taper_plans").sync_detailed(client=app)
    assert plans.headers["X-Total-Count"] == "1"
    (plan,) = plans.parsed
    scale = _call("list_symptom_reports", "tapers", plan_id=plan.id, client=app)
    items = {item.id: 0 for item in scale.scale.items}
    symptom = next(item for item in scale.scale.items if not item.red_flag)
    items[symptom.id] = 2
    report = _call(
        "report_symptoms",
        "tapers",
        plan_id=plan.id,
        client=app,
        body=models.SymptomReportIn(items=models.SymptomReportInItems.from_dict(items)),
    )
    assert report.total == 2
    assert report.hold_proposed is False
    after = _call("list_symptom_reports", "tapers", plan_id=plan.id, client=app)
    assert [r.id for r in after.reports] == [report.id]
