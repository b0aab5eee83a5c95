"""Interoperability's queries: patients' EHR identifiers, CDS Hooks cards and the
feedback on them, and CDS clients' used JWT ids."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, or_, tuple_
from sqlmodel import Session, col, select

from service.db.outbox_rows import insert_for
from service.db.tables import CdsCard, CdsFeedback, CdsTokenUse, PatientIdentifier


class InteropRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def identifiers(self, patient_id: uuid.UUID) -> list[PatientIdentifier]:
        query = (
            select(PatientIdentifier)
            .where(PatientIdentifier.patient_id == patient_id)
            .order_by(col(PatientIdentifier.added_at), col(PatientIdentifier.id))
        )
        return list(self._s.exec(query))

    def identifier(self, system: str, value: str) -> PatientIdentifier | None:
        query = select(PatientIdentifier).where(
            PatientIdentifier.system == system, PatientIdentifier.value == value
        )
        return self._s.exec(query).first()

    def add_identifier(self, row: PatientIdentifier) -> PatientIdentifier:
        self._s.add(row)
        self._s.flush()
        return row

    def linked_patients(self, pairs: Iterable[tuple[str, str]]) -> list[uuid.UUID]:
        """The medtrack patients any of these (system, value) identifiers name."""
        wanted = list(dict.fromkeys(pairs))
        if not wanted:
            return []
        query = (
            select(PatientIdentifier.patient_id)
            .where(
                or_(
                    *(
                        tuple_(col(PatientIdentifier.system), col(PatientIdentifier.value))
                        == tuple_(system, value)
                        for system, value in wanted
                    )
                )
            )
            .distinct()
        )
        return list(self._s.exec(query))

    def add_cards(self, cards: Sequence[CdsCard]) -> None:
        self._s.add_all(cards)
        self._s.flush()

    def cards(self, uuids: Iterable[uuid.UUID]) -> dict[uuid.UUID, CdsCard]:
        wanted = list(set(uuids))
        if not wanted:
            return {}
        query = select(CdsCard).where(col(CdsCard.uuid).in_(wanted))
        return {c.uuid: c for c in self._s.exec(query)}

    def add_feedback(self, rows: Sequence[CdsFeedback]) -> None:
        self._s.add_all(rows)
        self._s.flush()

    def feedback(self, card_uuid: uuid.UUID) -> list[CdsFeedback]:
        query = (
            select(CdsFeedback)
            .where(CdsFeedback.card_uuid == card_uuid)
            .order_by(col(CdsFeedback.recorded_at), col(CdsFeedback.id))
        )
        return list(self._s.exec(query))

    def use_token(self, issuer: str, jti: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
        """Record a JWT id as used; False if it was used before and has not expired.
        Expired ids are forgotten first: a token past its expiry is refused anyway."""
        self._s.execute(delete(CdsTokenUse).where(col(CdsTokenUse.expires_at) <= now))
        # One statement: of two calls with one id at once, on any replica, the
        # second inserts nothing (rather than failing on the key) and is refused.
        table = CdsTokenUse.__table__  # type: ignore[attr-defined]
        inserted = self._s.execute(
            insert_for(self._s)(table)
            .values(issuer=issuer, jti=jti, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["issuer", "jti"])
            .returning(table.c.jti)
        ).all()
        return bool(inserted)
