"""Imported interaction datasets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


class InteractionImport(SQLModel, table=True):
    """One run of an importer; the knowledge-base version counts these."""

    __tablename__ = "interaction_imports"

    id: int | None = Field(default=None, primary_key=True)
    format: str = Field(max_length=16)
    files: list[str] = Field(sa_column=Column(JSON, nullable=False))
    rows_read: int
    pairs_stored: int
    unknown_level: int
    unresolved_names: int
    rejected_rows: int
    created_at: dt.datetime = utc_column()


class ImportedInteraction(SQLModel, table=True):
    """A drug pair from a licensed external dataset (DDInter, generic CSV).

    `drug_a` < `drug_b` are ingredient keys: a catalog id, or "x:" and the
    normalised name for a drug the catalog does not list.
    """

    __tablename__ = "imported_interactions"
    __table_args__ = (
        UniqueConstraint("dataset", "drug_a", "drug_b"),
        Index("ix_imported_pair", "drug_a", "drug_b"),
        Index("ix_imported_drug_b", "drug_b"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dataset: str = Field(max_length=16)
    drug_a: str = Field(max_length=200)
    drug_b: str = Field(max_length=200)
    name_a: str = Field(max_length=200)
    name_b: str = Field(max_length=200)
    severity: str = Field(max_length=16)
    mechanism: str | None = Field(default=None, max_length=4000)
    management: str | None = Field(default=None, max_length=4000)
    source: str | None = Field(default=None, max_length=500)
    import_id: int = Field(foreign_key="interaction_imports.id")
