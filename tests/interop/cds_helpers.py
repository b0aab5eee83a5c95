"""What the CDS Hooks tests share: EHR signing keys and the JWTs they sign, hook
calls built from the specification's examples, and a validator of the CDS Hooks 2.0
response shape (specification "CDS Service Response": cards, their source,
suggestions and actions, links, overrideReasons; systemActions)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from service.config import CdsClient

FIXTURES = Path(__file__).parent / "fixtures" / "cds-hooks"
BASE = "http://localhost/cds-services"
SERVICE = f"{BASE}/medtrack-medication-safety"
EHR_ES = "https://ehr-es.example.org"
EHR_RS = "https://ehr-rs.example.org"
MRN = "https://ehr-es.example.org/fhir/sid/mrn"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

ES_KEY = ec.generate_private_key(ec.SECP384R1())
RS_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_ES_KEY = ec.generate_private_key(ec.SECP384R1())


def _public(key: Any, algorithm: Any, kid: str, alg: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


CLIENTS = (
    CdsClient(
        iss=EHR_ES,
        keys=(_public(ES_KEY, ECAlgorithm, "es-1", "ES384"),),
        patient_system=MRN,
    ),
    CdsClient(iss=EHR_RS, keys=(_public(RS_KEY, RSAAlgorithm, "rs-1", "RS384"),)),
)


def token(
    *,
    iss: str = EHR_ES,
    aud: str = SERVICE,
    key: Any = None,
    kid: str | None = None,
    alg: str | None = None,
    lifetime: int = 300,
    now: dt.datetime | None = None,
    jti: str | None = None,
    **claims: Any,
) -> str:
    """A JWT as an EHR signs one for a call (the ES384 client by default)."""
    rs = iss == EHR_RS
    issued = int((now or dt.datetime.now(dt.UTC)).timestamp())
    payload = {
        "iss": iss,
        "aud": aud,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": jti or str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(
        payload,
        key or (RS_KEY if rs else ES_KEY),
        algorithm=alg or ("RS384" if rs else "ES384"),
        headers={"kid": kid or ("rs-1" if rs else "es-1"), "typ": "JWT"},
    )


def auth(**kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(**kwargs)}"}


def spec_example(name: str, hook: str) -> dict[str, Any]:
    """The specification's example request (context only), made a whole call."""
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}-r4.json").read_text())
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), **copy.deepcopy(body)}


def med_request(
    rid: str, text: str, *, status: str = "draft", code: str | None = None
) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": RXNORM, "code": code, "display": text}]
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/ehr-1"},
    }


def bundle(*resources: dict[str, Any], kind: str = "collection") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def call(
    drafts: list[dict[str, Any]],
    *,
    hook: str = "order-select",
    current: list[dict[str, Any]] | None = None,
    patient_id: str = "ehr-1",
    patient: dict[str, Any] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "userId": "Practitioner/example",
        "patientId": patient_id,
        "draftOrders": bundle(*drafts),
    }
    if hook == "order-select":
        context["selections"] = [f"MedicationRequest/{d['id']}" for d in drafts]
    body: dict[str, Any] = {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context}
    prefetch: dict[str, Any] = {}
    if current is not None:
        prefetch["medications"] = bundle(*current, kind="searchset")
    if patient is not None:
        prefetch["patient"] = patient
    if prefetch:
        body["prefetch"] = prefetch
    return body


# --- the CDS Hooks 2.0 response shape --------------------------------------------

INDICATORS = {"info", "warning", "critical"}
ACTION_TYPES = {"create", "update", "delete"}


def _coding(c: Any, where: str, *, display: bool) -> None:
    assert isinstance(c, dict), where
    assert isinstance(c.get("code"), str), f"{where}.code"
    assert c["code"], f"{where}.code"
    assert c.get("system") is None or isinstance(c["system"], str), f"{where}.system"
    if display:
        assert isinstance(c.get("display"), str), f"{where}.display"
        assert c["display"], f"{where}.display"


def _action(a: Any, where: str) -> None:
    assert isinstance(a, dict), where
    assert a.get("type") in ACTION_TYPES, f"{where}.type"
    assert isinstance(a.get("description"), str), f"{where}.description"
    assert a["description"], f"{where}.description"
    if a["type"] in ("create", "update"):
        assert isinstance(a.get("resource"), dict), f"{where}.resource"
        assert isinstance(a["resource"].get("resourceType"), str), f"{where}.resource"
    else:
        assert isinstance(a.get("resourceId"), str), where
        assert "/" in a["resourceId"], where


def _card(card: Any, where: str) -> None:
    allowed = {
        "uuid", "summary", "detail", "indicator", "source", "suggestions",
        "selectionBehavior", "overrideReasons", "links",
    }  # fmt: skip
    assert isinstance(card, dict), where
    assert set(card) <= allowed, f"{where}: {sorted(card)}"
    uuid.UUID(card["uuid"])
    summary = card.get("summary")
    assert isinstance(summary, str), f"{where}.summary"
    assert 0 < len(summary) < 140, f"{where}.summary"
    assert card.get("detail") is None or isinstance(card["detail"], str), f"{where}.detail"
    assert card.get("indicator") in INDICATORS, f"{where}.indicator"
    source = card.get("source")
    assert isinstance(source, dict), f"{where}.source"
    assert isinstance(source.get("label"), str), f"{where}.source.label"
    assert source["label"], f"{where}.source.label"
    if "topic" in source:
        _coding(source["topic"], f"{where}.source.topic", display=False)
    suggestions = card.get("suggestions")
    if suggestions is not None:
        assert card.get("selectionBehavior") in ("at-most-one", "any"), where
        for j, s in enumerate(suggestions):
            assert isinstance(s.get("label"), str), f"{where}.suggestions[{j}]"
            assert s["label"], f"{where}.suggestions[{j}]"
            uuid.UUID(s["uuid"])
            for k, a in enumerate(s.get("actions", [])):
                _action(a, f"{where}.suggestions[{j}].actions[{k}]")
    for j, r in enumerate(card.get("overrideReasons") or []):
        _coding(r, f"{where}.overrideReasons[{j}]", display=True)
    for j, link in enumerate(card.get("links") or []):
        assert isinstance(link.get("label"), str), f"{where}.links[{j}]"
        assert link["label"], f"{where}.links[{j}]"
        assert link.get("type") in ("absolute", "smart"), f"{where}.links[{j}].type"
        assert str(link.get("url", "")).startswith(("http://", "https://")), f"{where}.links"
        assert link["type"] == "smart" or "appContext" not in link, f"{where}.links[{j}]"


def assert_cds_response(body: Any) -> list[dict[str, Any]]:
    """The body's cards, after checking every rule of the 2.0 response shape."""
    assert isinstance(body, dict), body
    assert set(body) <= {"cards", "systemActions"}, body
    assert isinstance(body["cards"], list)
    for i, card in enumerate(body["cards"]):
        _card(card, f"cards[{i}]")
    for i, a in enumerate(body.get("systemActions") or []):
        _action(a, f"systemActions[{i}]")
    uuids = [c["uuid"] for c in body["cards"]]
    assert len(set(uuids)) == len(uuids)
    return list(body["cards"])
