"""Reminders: the timings and message kinds the planning, dispatch and follow-up
use cases share (planning.py, dispatch.py, followups.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from service.domain.interactions import KnowledgeBase
from service.domain.messages import MessageKind

# The kinds other use cases, tests and benchmarks import from here; the kinds
# themselves are the domain's (MessageKind).
REMINDER = MessageKind.REMINDER
TAPER_STEP = MessageKind.TAPER_STEP
TAPER_SYMPTOMS = MessageKind.TAPER_SYMPTOMS
REGIMEN_FINDING = MessageKind.REGIMEN_FINDING

_EVENT_IDS = uuid.UUID("5b0c7a52-3f7e-4d0e-9a51-7d3f2a9c1e64")


@dataclass(frozen=True, kw_only=True)
class ReminderPolicy:
    """The timings of planning, reminding and following up (see the README)."""

    horizon: dt.timedelta = dt.timedelta(hours=48)
    # How far back a (re)start plans doses it did not plan while it was down.
    catch_up: dt.timedelta = dt.timedelta(hours=24)
    # Reminders are queued this long before they are due.
    lead: dt.timedelta = dt.timedelta(minutes=10)
    # A reminder not sent within this long of its time is expired, not sent.
    expiry: dt.timedelta = dt.timedelta(hours=2)
    follow_up_after: dt.timedelta = dt.timedelta(minutes=30)
    missed_after: dt.timedelta = dt.timedelta(hours=2)
    missed_in_a_row: int = 3
    lease: dt.timedelta = dt.timedelta(seconds=60)
    batch: int = 1000
    max_attempts: int = 8
    retry_base: dt.timedelta = dt.timedelta(seconds=10)
    retry_max: dt.timedelta = dt.timedelta(minutes=15)
    # A dose logged within this long of its time counts as taken on time.
    on_time: dt.timedelta = dt.timedelta(minutes=60)
    # A refill is due when a formulation lasts fewer days than this; longer for a
    # withdrawal-risk drug, whose running out is an abrupt stop (docs/clinical.md,
    # "Supply and refills").
    refill_days: int = 7
    refill_days_withdrawal: int = 10


DEFAULT_POLICY = ReminderPolicy()


def dose_event_id(prescription_id: uuid.UUID, at: dt.datetime) -> uuid.UUID:
    """The same dose planned twice gets the same id, before and after it is stored."""
    instant = at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return uuid.uuid5(_EVENT_IDS, f"{prescription_id}/{instant}")


def withdrawal_risk(kb: KnowledgeBase, ingredients: Iterable[str]) -> bool:
    return bool(kb.catalog.withdrawal_risks(ingredients))
