"""Worklist items a clinician marked done."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


class WorklistMark(SQLModel, table=True):
    """A worklist item marked done: who, when and why. One per item (its key), for the
    whole care team; append-only, like the audit entry written with it.

    `kind` and `subject_id` (the finding, dose, report, plan or enrolment the item is
    about) let the worklist's queries leave done items out in the database."""

    __tablename__ = "worklist_marks"
    __table_args__ = (Index("ix_worklist_marks_subject", "subject_id", "kind"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    item_key: str = Field(max_length=120, unique=True)
    kind: str = Field(max_length=16)
    subject_id: uuid.UUID
    patient_id: uuid.UUID | None = Field(default=None, foreign_key="patients.id", index=True)
    marked_by: uuid.UUID = Field(foreign_key="users.id")
    marked_at: dt.datetime = utc_column()
    note: str | None = Field(default=None, max_length=500)
