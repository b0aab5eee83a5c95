"""Short-lived signed links to a plan's chart, so that an app can show it as an image
(an `<img>` sends no Authorization header).

The patient or a clinician on the care team asks for a link; it names one plan,
expires LINK_TTL later, and carries a random link id and an HMAC-SHA256 signature
over the three, under a key derived from the server secret (MEDTRACK_SECRET_KEY) for
this use only. Whoever holds the link may fetch that plan's chart until it expires,
and nothing else: a link for one plan, altered in any part, expired, or dated
further ahead than LINK_TTL, is refused. Issuing a link and each fetch through one
are audited, the fetch with the link id, so the trail ties it to who asked for it.
Rotating the secret voids every link.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from service.db.uow import UnitOfWork
from service.domain.audit import AuditAction
from service.usecases.audit import record
from service.usecases.context import Caller, Clock
from service.usecases.errors import Forbidden, NotFound
from service.usecases.taper_reporting import chart_of, readable_plan

# Long enough for an app to load the image after asking for it, short enough that
# a link copied out of the app (a log, a screenshot of a URL) is soon useless.
LINK_TTL = dt.timedelta(minutes=5)
_KEY_LABEL = b"medtrack taper chart link v1"
_LINK = re.compile(r"[0-9a-f]{32}")
_SIG = re.compile(r"[0-9a-fA-F]{64}")
_REFUSED = "This chart link is not valid or has expired; ask for a new one."


@dataclass(frozen=True, kw_only=True)
class ChartLink:
    """What the chart's URL carries besides the plan: its expiry (Unix seconds),
    its id and its signature."""

    plan_id: uuid.UUID
    expires: int
    link: str
    sig: str

    @property
    def expires_at(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.expires, dt.UTC)


class ChartLinks:
    """Signs and checks chart links with a key of their own."""

    def __init__(self, secret: str) -> None:
        # Derived, so that a link's signature is never an oracle for anything else
        # the secret protects (tokens, message references).
        self._key = hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()

    def _sign(self, plan_id: uuid.UUID, expires: int, link: str) -> str:
        message = f"{plan_id}|{expires}|{link}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def issue(self, plan_id: uuid.UUID, now: dt.datetime) -> ChartLink:
        expires = int((now + LINK_TTL).timestamp())
        link = secrets.token_hex(16)
        return ChartLink(
            plan_id=plan_id, expires=expires, link=link, sig=self._sign(plan_id, expires, link)
        )

    def valid(self, given: ChartLink, now: dt.datetime) -> bool:
        """Signed by this key for this plan, and within its life."""
        if not (_LINK.fullmatch(given.link) and _SIG.fullmatch(given.sig)):
            return False
        expected = self._sign(given.plan_id, given.expires, given.link)
        signed = hmac.compare_digest(expected, given.sig.lower())
        left = given.expires - now.timestamp()
        return signed and 0 < left <= LINK_TTL.total_seconds()


def issue_chart_link(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, links: ChartLinks, plan_id: uuid.UUID
) -> ChartLink:
    """A link to the plan's chart, for the patient or the care team (404 for anyone
    else); the issue is audited."""
    now = clock()
    with uow:
        plan, _ = readable_plan(uow, caller, plan_id)
        issued = links.issue(plan.id, now)
        record(
            uow,
            caller=caller,
            now=now,
            action=AuditAction.EXECUTE,
            subtype="taper.chart-link",
            entity_type="TaperPlan",
            entity_id=plan.id,
            patient_id=plan.patient_id,
            after={"link": issued.link, "expires_at": issued.expires_at},
        )
        uow.commit()
        return issued


def linked_chart(
    *, uow: UnitOfWork, caller: Caller, clock: Clock, links: ChartLinks, given: ChartLink
) -> str:
    """The chart a valid link names, with no other credential (403 for a link that
    is not); the fetch is audited under the link's id."""
    now = clock()
    if not links.valid(given, now):
        raise Forbidden(_REFUSED)
    with uow:
        plan = uow.tapers.get(given.plan_id)
        patient = uow.patients.get(plan.patient_id) if plan is not None else None
        if plan is None or patient is None:
            raise NotFound(f"No taper plan {given.plan_id}.")
        svg = chart_of(uow, plan, patient.timezone, now)
        record(
            uow,
            caller=dataclasses.replace(caller, agent="chart-link"),
            now=now,
            action=AuditAction.READ,
            subtype="taper.chart",
            entity_type="TaperPlan",
            entity_id=plan.id,
            patient_id=plan.patient_id,
            after={"link": given.link},
        )
        uow.commit()
        return svg
