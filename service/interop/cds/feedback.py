"""Feedback on the service's cards (`POST /cds-services/medtrack-medication-safety/
feedback`): each card accepted (which suggestions) or overridden (with a reason from
the card's overrideReasons, or the client's own, and a comment), recorded and audited.
A card this service did not issue to the caller is 404, and nothing is recorded."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from service.interop.cds import auth
from service.interop.cds.blueprint import bp
from service.interop.cds.discovery import SERVICE_ID
from service.interop.cds.requests import BadCall
from service.usecases import cds, cds_feedback
from service.web.context import ctx

OUTCOMES = ("accepted", "overridden")
MAX_ITEMS = 100


def _bad(where: str, message: str) -> BadCall:
    return BadCall(f"The feedback is malformed: {where}.", errors={where: [message]})


def _instant(raw: Any, where: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise _bad(where, "Must be an RFC 3339 date-time in UTC, e.g. 2021-12-11T10:05:31Z.")
    return value.astimezone(dt.UTC)


def _reason(raw: Any, where: str) -> tuple[dict[str, Any] | None, str | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise _bad(where, "Must be an object with reason (a Coding) and/or userComment.")
    reason, comment = raw.get("reason"), raw.get("userComment")
    if reason is not None and not (
        isinstance(reason, Mapping) and isinstance(reason.get("code"), str)
    ):
        raise _bad(f"{where}.reason", "Must be a Coding with a code.")
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        raise _bad(f"{where}.userComment", "Must be text of at most 2000 characters.")
    coding = (
        {k: reason[k] for k in ("system", "code", "display") if k in reason} if reason else None
    )
    return coding, comment


def _item(raw: Any, i: int) -> cds_feedback.Feedback:
    where = f"feedback[{i}]"
    if not isinstance(raw, Mapping):
        raise _bad(where, "Must be an object.")
    try:
        card = uuid.UUID(str(raw.get("card")))
    except ValueError:
        raise _bad(f"{where}.card", "Must be the uuid of a card this service issued.") from None
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        raise _bad(f"{where}.outcome", f"Must be one of {', '.join(OUTCOMES)}.")
    accepted = raw.get("acceptedSuggestions") or []
    if not isinstance(accepted, list) or not all(
        isinstance(a, Mapping) and isinstance(a.get("id"), str) for a in accepted
    ):
        raise _bad(f"{where}.acceptedSuggestions", "Must be a list of {id} objects.")
    if outcome == "accepted" and not accepted:
        raise _bad(f"{where}.acceptedSuggestions", "Required for an accepted outcome.")
    reason, comment = _reason(raw.get("overrideReason"), f"{where}.overrideReason")
    return cds_feedback.Feedback(
        card=card,
        outcome=str(outcome),
        accepted_suggestions=tuple(str(a["id"]) for a in accepted),
        reason=reason,
        comment=comment,
        at=_instant(raw.get("outcomeTimestamp"), f"{where}.outcomeTimestamp"),
    )


@bp.post(f"/{SERVICE_ID}/feedback")
def feedback() -> ResponseReturnValue:
    c = ctx(cds.AGENT)
    here = auth.audience(c.settings, request.path)
    client = auth.authenticate(c, audiences=[here, here.removesuffix("/feedback")])
    body = request.get_json(silent=True)
    items = body.get("feedback") if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        raise _bad("feedback", f"Must be a list of 1 to {MAX_ITEMS} feedback objects.")
    recorded = cds_feedback.record_feedback(
        **c.args(), client=client.iss, items=[_item(raw, i) for i, raw in enumerate(items)]
    )
    return jsonify({"recorded": recorded})
