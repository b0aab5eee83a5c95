"""Fencing: a dispatcher whose claim lapsed, and whose row was claimed again, cannot
settle that row. The second claim is made under the same worker name on purpose: the
name tells processes apart, not claims (one process runs many batches, and a worker
name can repeat), so only the claim's own token can fence."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from service.db.uow import Database
from service.notify.base import DeliveryError, DeliveryReport, Message
from service.usecases.dispatch import DispatchSummary, dispatch_batch
from tests.conftest import FrozenClock
from tests.reliability.harness import POLICY, seed_due_reminders

WORKER = "scheduler-a:1:deadbeef"


def _row(database: Database) -> tuple[str, str | None, int]:
    with database.engine.connect() as conn:
        status, token, attempts = conn.execute(
            text("SELECT status, claim_token, attempts FROM notifications")
        ).one()
    return str(status), token, int(attempts)


def test_a_lapsed_claimer_cannot_settle_a_row_claimed_again(database: Database) -> None:
    clock = FrozenClock()
    seed_due_reminders(database, 1, now=clock())
    with database.uow() as uow:
        (first,) = uow.outbox.claim(worker=WORKER, now=clock(), lease=POLICY.lease, limit=5)
        uow.commit()
    clock.advance(seconds=POLICY.lease.total_seconds() + 1)
    with database.uow() as uow:
        (second,) = uow.outbox.claim(worker=WORKER, now=clock(), lease=POLICY.lease, limit=5)
        uow.commit()
    assert second.id == first.id
    assert second.token != first.token

    with database.uow() as uow:
        uow.outbox.settle(token=first.token, now=clock(), retry=[(first.id, clock(), "timed out")])
        uow.outbox.settle(token=first.token, now=clock(), sent=[first.id])
        uow.commit()
    assert _row(database) == ("claimed", second.token, 2), "the lapsed claim changed nothing"

    with database.uow() as uow:
        uow.outbox.settle(token=second.token, now=clock(), sent=[second.id])
        uow.commit()
    assert _row(database) == ("sent", None, 2)


class Stalled:
    """A send that outlives its claim: meanwhile the row is claimed again (by the same
    worker name) and is still being sent under that new claim; then this send fails."""

    name = "stalled"

    def __init__(self, database: Database, clock: FrozenClock) -> None:
        self.database = database
        self.clock = clock
        self.second_token: str | None = None

    def send(self, message: Message) -> DeliveryReport:
        self.clock.advance(seconds=POLICY.lease.total_seconds() + 1)
        with self.database.uow() as uow:
            (again,) = uow.outbox.claim(
                worker=WORKER, now=self.clock(), lease=POLICY.lease, limit=5
            )
            uow.commit()
        self.second_token = again.token
        raise DeliveryError("webhook timed out", transient=True)

    def close(self) -> None:
        """Nothing held."""


def test_a_dispatcher_that_outlived_its_lease_leaves_the_new_claim_alone(
    database: Database,
) -> None:
    clock = FrozenClock()
    seed_due_reminders(database, 1, now=clock() - dt.timedelta(minutes=1))
    notifier = Stalled(database, clock)
    summary = DispatchSummary()
    dispatch_batch(
        uow=database.uow(),
        clock=clock,
        notifier=notifier,
        policy=POLICY,
        worker=WORKER,
        summary=summary,
    )
    assert summary.retried == 1, "the stalled dispatcher believes it scheduled a retry"
    # ...but the row stays with the claim that is sending it: nobody else may take it
    # (as a queued retry would let them) while that send is in flight.
    assert _row(database) == ("claimed", notifier.second_token, 2)
