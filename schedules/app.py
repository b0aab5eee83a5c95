"""The scheduler: an APScheduler 3 `BlockingScheduler` in UTC that only ticks.

The database holds every dose and message; each job opens its own units of work
and calls a use case, so any number of these processes may run against one
PostgreSQL database (claims use FOR UPDATE SKIP LOCKED) and a restart loses
nothing. No job is ever created per dose.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from service.db.uow import Database
from service.domain.interactions import KnowledgeBase
from service.notify.base import Notifier
from service.usecases.audit_chain import anchor
from service.usecases.context import Clock, utc_now
from service.usecases.dispatch import dispatch_due, queue_due_messages, release_claims
from service.usecases.followups import follow_up_missed
from service.usecases.pauses import resume_due_pauses
from service.usecases.planning import materialise_doses
from service.usecases.refills import check_refills
from service.usecases.reminders import ReminderPolicy
from service.usecases.rescreening import rescreen_due
from service.usecases.taper_steps import advance_taper_plans

log = logging.getLogger("medtrack.scheduler")

# Job ids are fixed: re-adding a job replaces it instead of adding a second one.
MATERIALISE = "materialise-doses"
FOLLOW_UP = "follow-up-missed"
QUEUE = "queue-messages"
DISPATCH = "dispatch-messages"
ADVANCE_TAPERS = "advance-taper-plans"
RESUME_PAUSES = "resume-paused-prescriptions"
RESCREEN = "rescreen-records"
REFILLS = "check-refills"
ANCHOR_AUDIT = "anchor-audit-trail"


@dataclass(frozen=True)
class Periodic:
    """A job the scheduler runs every `every` seconds, under a fixed id."""

    id: str
    run: Callable[[], None]
    every: float
    grace: int


def worker_id() -> str:
    """Names this process in claims, so its claims can be told apart and released."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Jobs:
    """The jobs, bound to their collaborators; each may run from any thread."""

    database: Database
    kb: KnowledgeBase
    notifier: Notifier
    policy: ReminderPolicy
    clock: Clock = utc_now
    worker: str = field(default_factory=worker_id)
    stopping: threading.Event = field(default_factory=threading.Event)
    # Threads sending to different recipients at once (channels that allow it).
    send_threads: int = 1

    def advance_tapers(self) -> None:
        s = advance_taper_plans(
            uow=self.database.uow(), clock=self.clock, kb=self.kb, policy=self.policy
        )
        if s.plans or s.skipped or s.failed:
            log.info(
                "taper plans: %d advanced (%d steps started, %d completed), "
                "%d held elsewhere, %d failed",
                s.plans,
                s.steps,
                s.completed,
                s.skipped,
                s.failed,
            )

    def resume_pauses(self) -> None:
        resumed = resume_due_pauses(
            uow=self.database.uow(), clock=self.clock, kb=self.kb, policy=self.policy
        )
        if resumed:
            log.info("paused prescriptions resumed on their date: %d", resumed)

    def rescreen(self) -> None:
        screened = rescreen_due(uow=self.database.uow(), clock=self.clock, kb=self.kb)
        if screened:
            log.info("records screened again: %d", screened)

    def refills(self) -> None:
        queued = check_refills(
            uow=self.database.uow(), clock=self.clock, kb=self.kb, policy=self.policy
        )
        if queued:
            log.info("refill reminders queued: %d", queued)

    def anchor_audit(self) -> None:
        anchor(uow=self.database.uow(), clock=self.clock)

    def materialise(self) -> None:
        planned = materialise_doses(
            uow=self.database.uow(), clock=self.clock, kb=self.kb, policy=self.policy
        )
        if planned:
            log.info("planned dose events: %d rows written", planned)

    def follow_up(self) -> None:
        s = follow_up_missed(uow=self.database.uow(), clock=self.clock, policy=self.policy)
        if s.missed or s.care_team_messages:
            log.info("missed doses: %d; care-team messages: %d", s.missed, s.care_team_messages)

    def queue(self) -> None:
        s = queue_due_messages(uow=self.database.uow(), clock=self.clock, policy=self.policy)
        if s.reminders or s.follow_ups or s.expired:
            log.info(
                "queued reminders %d, follow-ups %d; expired %d",
                s.reminders,
                s.follow_ups,
                s.expired,
            )

    def dispatch(self) -> None:
        s = dispatch_due(
            uow=self.database.uow(),
            clock=self.clock,
            notifier=self.notifier,
            policy=self.policy,
            worker=self.worker,
            should_stop=self.stopping.is_set,
            threads=self.send_threads,
        )
        if s.claimed:
            log.info(
                "dispatched: claimed %d, sent %d, retry %d, deferred %d, failed %d, withdrawn %d",
                s.claimed,
                s.sent,
                s.retried,
                s.deferred,
                s.failed,
                s.withdrawn,
            )

    def run_once(self) -> None:
        """Every job once, in the order a catch-up needs: start the taper steps
        that came due (they change doses), plan, settle the past, queue what is
        due, check supply for refills, send it."""
        self.advance_tapers()
        self.resume_pauses()
        self.materialise()
        self.follow_up()
        self.queue()
        self.refills()
        self.dispatch()

    def release(self) -> None:
        released = release_claims(uow=self.database.uow(), clock=self.clock, worker=self.worker)
        if released:
            log.info("released %d claims", released)


def _periodic(jobs: Jobs, *, dispatch_seconds: float) -> list[Periodic]:
    """Each job with its interval and how late a run may start (seconds).

    misfire_grace_time: a run late by more than about one interval is skipped
    (coalesce folds the backlog into one run), since the next run does the work.
    """
    return [
        Periodic(DISPATCH, jobs.dispatch, every=dispatch_seconds, grace=5),
        Periodic(QUEUE, jobs.queue, every=30, grace=30),
        Periodic(FOLLOW_UP, jobs.follow_up, every=60, grace=60),
        Periodic(ADVANCE_TAPERS, jobs.advance_tapers, every=60, grace=60),
        Periodic(RESUME_PAUSES, jobs.resume_pauses, every=60, grace=60),
        Periodic(REFILLS, jobs.refills, every=300, grace=300),
        # Not part of run_once: a sweep of whole records, not a dose or message job.
        Periodic(RESCREEN, jobs.rescreen, every=300, grace=300),
        Periodic(ANCHOR_AUDIT, jobs.anchor_audit, every=600, grace=600),
        Periodic(MATERIALISE, jobs.materialise, every=300, grace=300),
    ]


def build_scheduler(jobs: Jobs, *, dispatch_seconds: float) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    for job in _periodic(jobs, dispatch_seconds=dispatch_seconds):
        scheduler.add_job(
            job.run,
            IntervalTrigger(seconds=job.every),
            id=job.id,
            misfire_grace_time=job.grace,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def run(
    jobs: Jobs,
    *,
    once: bool,
    dispatch_seconds: float,
    doing: str = "planning doses and sending reminders",
) -> None:
    """`--once`: every job once, then exit. Otherwise a catch-up pass, one line saying
    the scheduler has started and what it is `doing`, then tick until SIGTERM or
    SIGINT. A signal at any point, the catch-up included, lets the batch in hand
    finish, hands back the claims not settled, and exits."""
    scheduler = None if once else build_scheduler(jobs, dispatch_seconds=dispatch_seconds)
    finished = threading.Event()

    def shut_down_once_running() -> None:
        # The signal may come before the scheduler has started (during the catch-up).
        while scheduler is not None and not finished.is_set():
            if scheduler.running:
                scheduler.shutdown(wait=True)
                return
            time.sleep(0.05)

    previous: dict[signal.Signals, Any] = {}

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: finishing the current batch, then stopping", signum)
        # A second signal gets the default behaviour: it stops the process at once.
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        jobs.stopping.set()
        threading.Thread(target=shut_down_once_running, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, stop)
    try:
        jobs.run_once()
        if scheduler is None or jobs.stopping.is_set():
            return
        log.info("started as %s, %s", jobs.worker, doing)
        scheduler.start()
    finally:
        finished.set()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        jobs.release()
        jobs.notifier.close()
