"""schemathesis from outside: the committed openapi.yaml against a live server.

Migrates a database, seeds the demo accounts, plans their doses, starts
`medtrack serve` (gunicorn) on a free port, logs in as the demo clinician and the
demo patient, and runs three schemathesis phases as each: the schema's examples;
fuzzing, every operation with generated requests; and the stateful phase, where the
OpenAPI links chain real ids from one response into the next request. Generated
requests draw ids (patients, prescriptions, doses, drugs, clinicians) from what the
demo data holds; time zones, drug names, dates and taper doses from valid values;
and list offsets of 0, most of the time (a config file of schemathesis
"dictionaries"): random ids and zones alone meet 404s and 422s, and link chains stop
at their first step. Every response must be a non-5xx documented by the spec
(status, content type, headers and body). Exits non-zero on any failure.

    .venv/bin/python .ci/schemathesis_live.py [--database-url URL] [--max-examples N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
CLINICIAN = ("dr.rivera@demo.medtrack.test", "demo-clinician-password")
PATIENT = ("alex@demo.medtrack.test", "demo-patient-password")
# Logging out would revoke the token the run uses for everything after it.
EXCLUDED = ("/v1/auth/logout",)
# How often a bound parameter takes a known value rather than a generated one.
KNOWN_SHARE = 0.8
ZONES = ("America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
DRUGS = ("escitalopram", "Lexapro", "diazepam", "Valium", "sertraline", "ibuprofen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def medtrack(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(BIN / "medtrack"), *args], env=env, check=True, cwd=ROOT)  # noqa: S603


def wait_ready(base: str, server: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"{base} was not ready within {seconds:.0f} s")


def get(base: str, token: str, path: str) -> Any:
    request = urllib.request.Request(  # noqa: S310
        f"{base}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
        return json.loads(r.read())


def known_values(base: str, clinician: str) -> dict[str, list[Any]]:
    """Ids of what the demo data holds, read through the API as the clinician."""
    patients = [p["id"] for p in get(base, clinician, "/v1/patients?limit=100")]
    now = dt.datetime.now(dt.UTC)
    window = urllib.parse.urlencode(
        {
            "from": (now - dt.timedelta(days=1)).isoformat(),
            "to": (now + dt.timedelta(days=2)).isoformat(),
        }
    )
    prescriptions: list[str] = []
    doses: list[str] = []
    for patient in patients:
        prescriptions += [
            rx["id"] for rx in get(base, clinician, f"/v1/patients/{patient}/prescriptions")
        ]
        doses += [d["id"] for d in get(base, clinician, f"/v1/patients/{patient}/doses?{window}")]
    me = get(base, clinician, "/v1/me")
    today = now.date()
    return {
        "patients": patients,
        "prescriptions": prescriptions,
        "doses": doses,
        "drugs": sorted(
            {d["id"] for name in DRUGS for d in get(base, clinician, f"/v1/drugs?q={name}")}
        ),
        "clinicians": [me["id"]],
        "zones": list(ZONES),
        "drug_names": list(DRUGS),
        "offsets": [0],
        "births": ["1948-02-29", "1975-04-12", "2008-11-30"],
        "start_dates": [(today + dt.timedelta(days=n)).isoformat() for n in (0, 1, 7)],
        "daily_doses_mg": [2, 10, 20, 40],
        "target_doses_mg": [0, 5],
    }


# Parameter (location.name) -> the dictionary it draws from.
BINDINGS = {
    "path.patient_id": "patients",
    "path.rx_id": "prescriptions",
    "path.dose_id": "doses",
    "path.drug_id": "drugs",
    "path.clinician_id": "clinicians",
    "body.clinician_id": "clinicians",
    "body.patient_id": "patients",
    "body.timezone": "zones",
    "body.drug": "drug_names",
    "body.drugs[*]": "drug_names",
    "body.date_of_birth": "births",
    "body.start_date": "start_dates",
    "body.start_dose_mg": "daily_doses_mg",
    "body.target_dose_mg": "target_doses_mg",
    # Lists start at the beginning, so that their items' links lead somewhere.
    "query.offset": "offsets",
}


def write_config(path: Path, values: dict[str, list[Any]]) -> None:
    """A schemathesis.toml binding the parameters above to the values found."""
    lines: list[str] = []
    for name, items in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(items)}", ""]
    lines.append("[parameters]")
    for key, name in BINDINGS.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {KNOWN_SHARE} }}')
    path.write_text("\n".join(lines) + "\n")


def login(base: str, email: str, password: str) -> str:
    request = urllib.request.Request(  # noqa: S310
        f"{base}/v1/auth/token",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
        return str(json.loads(r.read())["access_token"])


def fuzz(
    base: str, who: str, token: str, config: Path, max_examples: int, seed: int, mode: str
) -> int:
    print(f"== schemathesis as the {who}, against {base}", flush=True)
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        base,
        "--phases",
        "examples,fuzzing,stateful",
        "--mode",
        mode,
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--warnings",
        "off",
        "--generation-database",
        "none",
    ]
    for path in EXCLUDED:
        command += ["--exclude-path", path]
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument(
        "--migration-database-url",
        help="PostgreSQL: migrate as this URL's role (the owner) and serve as the "
        "--database-url role, which `medtrack db upgrade` grants",
    )
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument(
        "--mode",
        choices=("positive", "negative", "all"),
        default="positive",
        help="positive data reaches deeper into the links (default %(default)s)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/live.sqlite"
        env = {
            **os.environ,
            "MEDTRACK_ENV": "development",
            "MEDTRACK_DATABASE_URL": url,
            "MEDTRACK_SECRET_KEY": secrets.token_urlsafe(32),
            "MEDTRACK_NOTIFIER": "log",
            "MEDTRACK_LOG_LEVEL": "WARNING",
            # The stateless phases send many wrong logins; the limit is tested elsewhere.
            "MEDTRACK_LOGIN_MAX_FAILURES": "1000",
        }
        if args.migration_database_url:
            env["MEDTRACK_MIGRATION_DATABASE_URL"] = args.migration_database_url
        medtrack(env, "db", "upgrade")
        medtrack(env, "demo")
        medtrack(env, "scheduler", "--once")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            server = subprocess.Popen(  # noqa: S603
                [str(BIN / "medtrack"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_ready(base, server)
            tokens = {"clinician": login(base, *CLINICIAN), "patient": login(base, *PATIENT)}
            config = Path(tmp) / "schemathesis.toml"
            write_config(config, known_values(base, tokens["clinician"]))
            failed = [
                who
                for who, token in tokens.items()
                if fuzz(base, who, token, config, args.max_examples, args.seed, args.mode) != 0
            ]
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        errors = [line for line in log.read_text().splitlines() if "Traceback" in line]
        if errors:
            print(log.read_text()[-5000:])
            failed.append("server log (tracebacks)")
    if failed:
        print(f"schemathesis found failures as: {', '.join(failed)}")
        return 1
    print("schemathesis: no server error and no response outside the schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
