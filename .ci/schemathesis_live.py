"""schemathesis from outside: the committed openapi.yaml against a live server.

Migrates a database, seeds the demo accounts, plans their doses, starts
`medtrack serve` (gunicorn) on a free port, logs in as the demo clinician and the
demo patient, and runs schemathesis' stateful phase (and its example phase) as
each: the OpenAPI links chain real ids from one response into the next request.
Every response must be a non-5xx documented by the spec (status, content type,
headers and body). Exits non-zero on any failure.

    .venv/bin/python .ci/schemathesis_live.py [--database-url URL] [--max-examples N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

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


def login(base: str, email: str, password: str) -> str:
    request = urllib.request.Request(  # noqa: S310
        f"{base}/v1/auth/token",
        data=json.dumps({"email": email, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:  # noqa: S310
        return str(json.loads(r.read())["access_token"])


def fuzz(base: str, who: str, token: str, max_examples: int, seed: int, mode: str) -> int:
    print(f"== schemathesis as the {who}, against {base}", flush=True)
    command = [
        str(BIN / "schemathesis"),
        "run",
        str(ROOT / "openapi.yaml"),
        "--url",
        base,
        "--phases",
        "examples,stateful",
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
            failed = [
                who
                for who, token in tokens.items()
                if fuzz(base, who, token, args.max_examples, args.seed, args.mode) != 0
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
