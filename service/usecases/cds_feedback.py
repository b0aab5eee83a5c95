"""What a CDS client tells the CDS Hooks service after its call: the clinician's
outcome for each card (accepted, or overridden with a reason), recorded and audited;
and the JWT ids it has used, so that no token authorises two calls."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.db.tables import CdsFeedback
from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.usecases.audit import record, storable
from service.usecases.context import Caller, Clock
from service.usecases.errors import NotFound, Unauthenticated


@dataclass(frozen=True, kw_only=True)
class Feedback:
    card: uuid.UUID
    outcome: str
    accepted_suggestions: tuple[str, ...] = ()
    # The override reason's Coding, as the client sent it.
    reason: dict[str, Any] | None = None
    comment: str | None = None
    at: dt.datetime


def record_feedback(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, client: str, items: Sequence[Feedback]
) -> int:
    """Record each outcome against the card it is about, all or none: a card this
    service did not issue to this client is not found (whoever else it went to)."""
    with uow:
        now = clock()
        cards = uow.interop.cards(i.card for i in items)
        for item in items:
            card = cards.get(item.card)
            if card is None or card.client != client:
                raise NotFound(f"No card {item.card} was issued to this client.")
        uow.interop.add_feedback(
            [
                CdsFeedback(
                    card_uuid=i.card,
                    client=client,
                    outcome=i.outcome,
                    accepted_suggestions=list(i.accepted_suggestions),
                    override_reason=i.reason,
                    user_comment=storable(i.comment) if i.comment else None,
                    outcome_at=i.at,
                    recorded_at=now,
                )
                for i in items
            ]
        )
        for i in items:
            card = cards[i.card]
            record(
                uow,
                caller=caller,
                now=now,
                action=AuditAction.UPDATE,
                subtype=f"cds.feedback.{i.outcome}",
                entity_type="CdsCard",
                entity_id=i.card,
                patient_id=card.patient_id,
                after={
                    "client": client,
                    "outcome": i.outcome,
                    "summary": card.summary,
                    "finding_id": card.finding_id,
                    "accepted_suggestions": list(i.accepted_suggestions),
                    "override_reason": i.reason,
                    "outcome_timestamp": i.at,
                },
            )
        uow.commit()
        return len(items)


def use_token(
    *, uow: UnitOfWork, clock: Clock, issuer: str, jti: str, expires_at: dt.datetime
) -> None:
    """Spend a CDS client's JWT id; a second use of it before it expires is refused."""
    with uow:
        if not uow.interop.use_token(issuer, jti, expires_at, clock()):
            raise Unauthenticated("This token was used before: send a new one (jti).")
        uow.commit()
