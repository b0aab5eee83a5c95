"""What a patient has of a prescribed drug: dispenses and counts, per formulation.

Append-only: a mistaken entry is corrected by the next count, and both stay."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from uuid import UUID, uuid4

from sqlalchemy import Column, Index, Numeric
from sqlmodel import Field, SQLModel

from service.db.tables.columns import utc_column


class SupplyEntry(SQLModel, table=True):
    """A dispense (adds `quantity`) or a count (on hand is `quantity`), effective
    from `effective_at`: a dispense from the start of its local date, a count from
    when it was made."""

    __tablename__ = "supply_entries"
    __table_args__ = (
        Index("ix_supply_entries_rx", "prescription_id", "effective_at"),
        Index("ix_supply_entries_patient", "patient_id", "recorded_at"),
    )

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    patient_id: UUID = Field(foreign_key="patients.id")
    prescription_id: UUID = Field(foreign_key="prescriptions.id")
    kind: str = Field(max_length=16)
    formulation: str = Field(max_length=64)
    unit: str = Field(max_length=8)
    quantity: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    dispensed_on: dt.date | None = None
    effective_at: dt.datetime = utc_column()
    recorded_by: UUID = Field(foreign_key="users.id")
    recorded_at: dt.datetime = utc_column()
    # A dispense, or a count that found a refill's worth more than the estimate: the
    # supply it begins is a new one, whose shortfall is told anew.
    opens_supply: bool = False
