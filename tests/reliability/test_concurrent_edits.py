"""Concurrent edits of one prescription over real HTTP: optimistic concurrency with
ETag / If-Match, and no acknowledged version lost.

The app runs in a threaded WSGI server on a local port, so requests really overlap
and meet in the database (row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import Builders
from tests.reliability.harness import Figures

DEADLINE_SECONDS = 90


@pytest.fixture
def server(app: Flask) -> Iterator[tuple[str, int]]:
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", srv.server_port
    finally:
        srv.shutdown()
        thread.join(timeout=10)


def _call(
    address: tuple[str, int],
    method: str,
    path: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(*address, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        sent = {**headers, "Content-Type": "application/json"} if payload else headers
        conn.request(method, path, body=payload, headers=sent)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, dict(resp.getheaders()), json.loads(data) if data else None
    finally:
        conn.close()


@dataclass
class Tally:
    acknowledged: list[tuple[int, str]] = field(default_factory=list)
    stale: int = 0
    unexpected: list[tuple[int, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _path(patient_id: Any, rx_id: Any) -> str:
    return f"/v1/patients/{patient_id}/prescriptions/{rx_id}"


def test_a_stale_if_match_is_412_and_changes_nothing(make: Builders) -> None:
    clinician = make.clinician()
    patient = make.patient(clinician)
    rx = make.prescription(clinician, patient)
    path = _path(patient.patient_id, rx["id"])

    r = make.client.get(path, headers=clinician.headers)
    assert r.headers["ETag"] == '"1"'
    r = make.client.patch(
        path, json={"instructions": "after food"}, headers={**clinician.headers, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.json
    assert (r.json["version"], r.headers["ETag"]) == (2, '"2"')  # type: ignore[index]

    stale = make.client.patch(
        path, json={"instructions": "at night"}, headers={**clinician.headers, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"2"'
    assert stale.json["code"] == 412  # type: ignore[index]
    assert "version 2" in stale.json["message"]  # type: ignore[index]
    weak = make.client.post(
        f"{path}/pause", json={"reason": "rash"}, headers={**clinician.headers, "If-Match": 'W/"2"'}
    )
    assert weak.status_code == 412
    padded = make.client.post(
        f"{path}/pause", json={"reason": "rash"}, headers={**clinician.headers, "If-Match": '"02"'}
    )
    assert padded.status_code == 412
    versions = make.client.get(f"{path}/versions", headers=clinician.headers).json
    assert [(v["version"], v["instructions"], v["status"]) for v in versions] == [  # type: ignore[union-attr]
        (1, "with food", "active"),
        (2, "after food", "active"),
    ]

    listed = make.client.post(
        f"{path}/pause",
        json={"reason": "rash", "abrupt_stop_reason": "drug rash"},
        headers={**clinician.headers, "If-Match": '"1", "2"'},
    )
    assert (listed.status_code, listed.headers["ETag"]) == (200, '"3"')
    anything = make.client.patch(
        path, json={"instructions": "at night"}, headers={**clinician.headers, "If-Match": "*"}
    )
    assert (anything.status_code, anything.json["version"]) == (200, 4)  # type: ignore[index]


def test_two_edits_from_one_version_at_once_one_wins_one_is_412(
    make: Builders, server: tuple[str, int]
) -> None:
    clinician = make.clinician()
    patient = make.patient(clinician)
    rx = make.prescription(clinician, patient)
    path = _path(patient.patient_id, rx["id"])
    start = threading.Barrier(2)
    results: dict[str, tuple[int, Any]] = {}

    def edit(text: str) -> None:
        start.wait(timeout=10)
        status, _, body = _call(
            server,
            "PATCH",
            path,
            {**clinician.headers, "If-Match": '"1"'},
            {"instructions": text},
        )
        results[text] = (status, body)

    threads = [threading.Thread(target=edit, args=(t,)) for t in ("morning", "evening")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(status for status, _ in results.values()) == [200, 412], results
    winner = next(text for text, (status, _) in results.items() if status == 200)
    _, _, versions = _call(server, "GET", f"{path}/versions", clinician.headers)
    assert [(v["version"], v["instructions"]) for v in versions] == [
        (1, "with food"),
        (2, winner),
    ]


@pytest.mark.parametrize("conditional", [True, False], ids=["if-match", "blind"])
def test_concurrent_editors_lose_no_acknowledged_version(
    make: Builders, server: tuple[str, int], conditional: bool
) -> None:
    """Six editors make five edits each at once. With If-Match a stale editor gets
    412, reads again and retries; without it every edit lands as its own version.
    Either way each acknowledged edit is a version in the history, in order."""
    clinician = make.clinician()
    patient = make.patient(clinician)
    rx = make.prescription(clinician, patient)
    path = _path(patient.patient_id, rx["id"])
    editors, edits = 6, 5
    tally = Tally()
    deadline = time.monotonic() + DEADLINE_SECONDS
    start = threading.Barrier(editors)

    def editor(n: int) -> None:
        start.wait(timeout=10)
        for e in range(edits):
            text = f"editor {n} edit {e}"
            while time.monotonic() < deadline:
                headers = dict(clinician.headers)
                if conditional:
                    _, got, _ = _call(server, "GET", path, clinician.headers)
                    headers["If-Match"] = got["ETag"]
                status, _, body = _call(server, "PATCH", path, headers, {"instructions": text})
                with tally.lock:
                    if status == 200:
                        tally.acknowledged.append((body["version"], text))
                        break
                    if status == 412 and conditional:
                        tally.stale += 1
                        continue
                    tally.unexpected.append((status, body))
                    return

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(editors)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE_SECONDS + 10)

    _, _, versions = _call(server, "GET", f"{path}/versions", clinician.headers)
    history = {v["version"]: v["instructions"] for v in versions}
    lost = [(v, text) for v, text in tally.acknowledged if history.get(v) != text]
    figures = Figures(f"concurrent edits, {'if-match' if conditional else 'blind'}")
    figures.update(
        {
            "edits": editors * edits,
            "acknowledged": len(tally.acknowledged),
            "stale_412": tally.stale,
            "versions": len(history),
            "lost_writes": len(lost),
        }
    )
    figures.show()
    assert not tally.unexpected, (figures, tally.unexpected[:3])
    assert len(tally.acknowledged) == editors * edits, figures
    assert lost == [], figures
    assert sorted(history) == list(range(1, editors * edits + 2)), figures
    assert len({v for v, _ in tally.acknowledged}) == editors * edits, figures
