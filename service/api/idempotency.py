"""`Idempotency-Key` on every POST of /v1 that creates or logs something, in one place:
request hooks around the views, and a spec plugin that documents the header on the
same operations. The rules and the reasons are in service/usecases/idempotency.py.

Not covered: /v1/auth/* (their answers are credentials, and most have no caller to
scope a key to) and the operations that only compute (interaction check, taper
preview), which a client may simply send again.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Response, g, request
from flask_smorest import Blueprint

from service.api.context import RequestUnitOfWork, bearer_token, ctx, runtime
from service.api.errors import error_response, handle_use_case_error
from service.usecases import auth
from service.usecases import idempotency as keys
from service.usecases.errors import Unauthenticated, UseCaseError
from service.web import transaction

log = logging.getLogger("medtrack.api")

# Registered like the resources' blueprints, for its app-wide hooks; it has no routes.
blp = Blueprint("idempotency", __name__)

NOT_CREATING = frozenset({"/v1/interactions/check", "/v1/taper-plans/preview"})
PARAMETER = "IdempotencyKey"
REPLAYED = "Idempotent-Replayed"
_SCOPE = "medtrack_idempotency_scope"
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """`/v1/doses/<uuid:dose_id>/taken` as the spec spells it: `/v1/doses/{dose_id}/taken`."""
    return _CONVERTER.sub(r"{\1}", rule)


def covers(method: str, path: str) -> bool:
    """Whether the operation (its spec path) takes an Idempotency-Key."""
    return (
        method.upper() == "POST"
        and path.startswith("/v1/")
        and not path.startswith("/v1/auth/")
        and path not in NOT_CREATING
    )


def _caller_id() -> Any:
    """The signed-in caller, or None (the view then answers 401 itself)."""
    r = runtime()
    try:
        token = bearer_token()
        g.principal = auth.authenticate(
            uow=RequestUnitOfWork(r.db), clock=r.clock, tokens=r.tokens, token=token
        )
    except Unauthenticated:
        return None
    return g.principal.user_id


def _replay_if_allowed(answer: keys.Answer) -> Response:
    """The first answer again, if the caller may still read the patient it concerns."""
    args = request.view_args or {}

    def named(name: str) -> Any:
        value = args.get(name)
        return value if isinstance(value, uuid.UUID) else None

    r = runtime()
    try:
        keys.recheck(
            uow=RequestUnitOfWork(r.db),
            caller=ctx().caller,
            clock=r.clock,
            patient_id=named("patient_id"),
            dose_id=named("dose_id"),
            plan_id=named("plan_id"),
        )
    except UseCaseError as error:
        return handle_use_case_error(error)
    return _replay(answer)


def _replay(answer: keys.Answer) -> Response:
    response = Response(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED] = "true"
    return response


@blp.before_app_request
def claim_key() -> Response | None:
    """Hold the key in the request's own transaction, or answer from it."""
    rule = request.url_rule
    raw = request.headers.get(keys.HEADER)
    if raw is None or rule is None or not covers(request.method, openapi_path(rule.rule)):
        return None
    try:
        key = keys.parse_key(raw)
    except UseCaseError as error:
        return error_response(400, error.message, error.errors)
    user_id = _caller_id()
    if user_id is None:
        return None
    r = runtime()
    scope = keys.Scope(
        user_id=user_id,
        operation=f"POST {openapi_path(rule.rule)}",
        key=key,
        fingerprint=keys.fingerprint(
            secret_key=r.settings.secret_key,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            body=request.get_data(cache=True),
        ),
    )
    try:
        store = transaction.open_transaction(
            user_id=user_id,
            expired_before=keys.expired_before(r.clock(), r.settings.idempotency_ttl),
        )
        answer = keys.begin(store, scope=scope, sealer=keys.Sealer(r.settings.secret_key))
    except keys.KeyInFlight as error:
        transaction.close_transaction(commit=False)
        return error_response(
            409, error.message, error.errors, {"Retry-After": str(error.retry_after)}
        )
    except UseCaseError as error:
        transaction.close_transaction(commit=False)
        return handle_use_case_error(error)
    if answer is not None:
        transaction.close_transaction(commit=True)
        return _replay_if_allowed(answer)
    setattr(g, _SCOPE, scope)
    return None


@blp.after_app_request
def keep_answer(response: Response) -> Response:
    """Store the answer with the key and commit the request's transaction; a 5xx
    rolls everything back."""
    scope: keys.Scope | None = g.pop(_SCOPE, None)
    store = transaction.keys()
    if scope is None or store is None:
        return response
    if response.status_code >= 500:
        transaction.close_transaction(commit=False)
        return response
    r = runtime()
    answer = keys.Answer(
        status=response.status_code,
        headers=dict(response.headers.items()),
        body=response.get_data(),
    )
    try:
        keys.finish(
            store,
            scope=scope,
            answer=answer,
            now=r.clock(),
            sealer=keys.Sealer(r.settings.secret_key),
        )
        transaction.close_transaction(commit=True)
    except UseCaseError as error:
        transaction.close_transaction(commit=False)
        return handle_use_case_error(error)
    except Exception as exc:
        transaction.close_transaction(commit=False)
        if transaction.database_error(exc):
            # Nothing of the request was kept: as any database outage, 503 to retry.
            log.warning("could not keep the answer to a keyed request: %s", type(exc).__name__)
            return error_response(
                503, "The database is unavailable; retry shortly.", None, {"Retry-After": "1"}
            )
        log.exception("could not keep the answer to a keyed request")
        return error_response(500, "An unexpected error occurred; it has been logged.")
    return response


@blp.teardown_app_request
def release(_error: BaseException | None) -> None:
    """A request that ended without its answer (an error past every handler) keeps
    nothing."""
    transaction.close_transaction(commit=False)


class IdempotencyKeyPlugin(BasePlugin):
    """Documents the header, once as a component, on every covered operation."""

    def init_spec(self, spec: APISpec) -> None:
        super().init_spec(spec)
        spec.components.parameter(
            PARAMETER,
            "header",
            {
                "name": keys.HEADER,
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": keys.MAX_KEY_LENGTH},
                "example": '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
                "description": (
                    "A key the client makes (a UUID) to send a request again safely: a retry "
                    "with the same key and body gets the first answer (marked "
                    f"`{REPLAYED}: true`) and changes nothing; the same key with another "
                    "body is 409; while the first is still being answered, 409 with "
                    "Retry-After. Keys are the caller's own, per operation, kept "
                    "`MEDTRACK_IDEMPOTENCY_TTL_HOURS` (24 h at least)."
                ),
            },
        )

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        if path is None or not operations:
            return
        for method, operation in operations.items():
            if covers(method, path):
                # A component's name: apispec makes it a $ref.
                operation.setdefault("parameters", []).append(PARAMETER)
                _document_refusals(operation.setdefault("responses", {}))


_ERROR = {"$ref": "#/components/schemas/Error"}
_REFUSALS = {
    "400": f"The {keys.HEADER} header is not valid (`header.{keys.HEADER}`).",
    "409": (
        f"The {keys.HEADER} was used for another request, or its first request is still "
        "being answered (then with Retry-After)."
    ),
}


def _document_refusals(responses: dict[str | int, Any]) -> None:
    """The key's own 400 and 409, in the error shape; where the operation documents a
    409 of its own shape, the answer is either."""
    for status, description in _REFUSALS.items():
        # flask-smorest keys its responses by number, apispec's by text.
        current = responses.get(status, responses.get(int(status)))
        if current is None:
            responses[status] = {
                "description": description,
                "content": {"application/json": {"schema": _ERROR}},
            }
            continue
        for media in current.get("content", {}).values() if isinstance(current, dict) else ():
            if "schema" in media and media["schema"] != _ERROR:
                media["schema"] = {"anyOf": [media["schema"], _ERROR]}


def document(spec: APISpec) -> None:
    """Add the plugin to the spec, before the blueprints are registered."""
    plugin = IdempotencyKeyPlugin()
    plugin.init_spec(spec)
    spec.plugins = [*spec.plugins, plugin]
