"""The unit of work: one transaction per use case, rolled back unless committed."""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from service.db.audit import AuditChainRepository, AuditRepository
from service.db.devices import DeviceRepository
from service.db.doses import DoseRepository
from service.db.engine import begin_writing, make_engine, make_session_factory
from service.db.interop import InteropRepository
from service.db.knowledge import KnowledgeRepository
from service.db.outbox import OutboxRepository
from service.db.planning import PlanningRepository
from service.db.record import RecordRepository
from service.db.repositories import (
    PatientRepository,
    PrescriptionRepository,
    TokenRepository,
    UserRepository,
    ping,
    schema_revisions,
)
from service.db.sessions import SessionRepository
from service.db.supply import SupplyRepository
from service.db.tapers import TaperRepository
from service.db.throttle import DatabaseLoginThrottle, LoginThrottle, RedisLoginThrottle
from service.db.worklist import WorklistRepository


class UnitOfWork:
    users: UserRepository
    patients: PatientRepository
    tokens: TokenRepository
    sessions: SessionRepository
    prescriptions: PrescriptionRepository
    audit: AuditRepository
    audit_chain: AuditChainRepository
    knowledge: KnowledgeRepository
    planning: PlanningRepository
    doses: DoseRepository
    outbox: OutboxRepository
    devices: DeviceRepository
    tapers: TaperRepository
    record: RecordRepository
    worklist: WorklistRepository
    interop: InteropRepository
    supply: SupplyRepository
    login_throttle: LoginThrottle

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._db = database
        self._read_only = read_only
        self._session: Session | None = None

    def read_only(self) -> UnitOfWork:
        """The same database without a transaction: each statement reads committed
        data on its own, with no BEGIN and ROLLBACK round trips. For use cases that
        only read and can live with statements seeing different commits; commit()
        refuses. Of this one's class, so that a subclass's error handling carries over."""
        return type(self)(self._db, read_only=True)

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._session

    def __enter__(self) -> UnitOfWork:
        db = self._db
        session = (db.autocommit_session_factory if self._read_only else db.session_factory)()
        self._session = session
        self.users = UserRepository(session)
        self.patients = PatientRepository(session)
        self.tokens = TokenRepository(session)
        self.sessions = SessionRepository(session)
        self.prescriptions = PrescriptionRepository(session)
        self.audit = AuditRepository(session)
        self.audit_chain = AuditChainRepository(session)
        self.knowledge = KnowledgeRepository(session)
        self.planning = PlanningRepository(session)
        self.doses = DoseRepository(session)
        self.outbox = OutboxRepository(session)
        self.devices = DeviceRepository(session)
        self.tapers = TaperRepository(session)
        self.record = RecordRepository(session)
        self.worklist = WorklistRepository(session)
        self.interop = InteropRepository(session)
        self.supply = SupplyRepository(session)
        self.login_throttle = self._db.login_throttle(session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # Rows a use case hands back stay readable: detach them before the
            # rollback, which would otherwise expire their loaded state.
            self.session.expunge_all()
            self.session.rollback()
        finally:
            self.session.close()
            self._session = None

    def flush(self) -> None:
        """Write pending ORM changes now: the planning statements that follow are Core
        statements, which do not autoflush."""
        self.session.flush()

    def serialise_writes(self) -> None:
        """Take SQLite's write lock now (see `begin_writing`); PostgreSQL uses row locks."""
        begin_writing(self.session)

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.audit.write()
        self.session.commit()

    def ping(self) -> bool:
        return ping(self.session)

    def schema_revisions(self) -> frozenset[str]:
        return schema_revisions(self.session)


class Database:
    """Engine, session factory and the shared adapters that go with them."""

    def __init__(
        self, url: str, *, redis_url: str | None = None, login_window_seconds: int = 900
    ) -> None:
        self.url = url
        self.redis_url = redis_url
        self.login_window_seconds = login_window_seconds

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.url)

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def autocommit_session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine.execution_options(isolation_level="AUTOCOMMIT"))

    @cached_property
    def _redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url or "", socket_timeout=2)

    def login_throttle(self, session: Session) -> LoginThrottle:
        if self.redis_url:
            return RedisLoginThrottle(self._redis, window_seconds=self.login_window_seconds)
        return DatabaseLoginThrottle(session, window_seconds=self.login_window_seconds)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self)

    def dispose(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
