"""The chart's Supply panel of each current prescription: the forecast GET
/v1/.../supply gives (on hand, today's use, when each formulation runs out, whether
before the plan ends and by how much), and the formulations a dispense or a count
may name (docs/clinical.md, "Supply and refills")."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from service.domain.taper.status import UNDER_WAY
from service.usecases.prescriptions import PrescriptionRecord
from service.usecases.supply_choices import supply_choices
from service.usecases.supply_forecast import RATE_DAYS, SupplyForecast, supply_forecast
from service.web.context import RequestContext


@dataclass(frozen=True, kw_only=True)
class Panel:
    """One prescription's supply: the forecast, whether it has figures worth a table
    (supply recorded, or a taper under way), and what a form may record."""

    forecast: SupplyForecast
    figures: bool
    choices: tuple[str, ...]

    @property
    def basis(self) -> str:
        f = self.forecast
        if f.basis == "taper":
            return f"Daily use follows the coming steps of the {f.taper_plan_status} taper plan."
        if f.basis == "as-needed":
            return f"Daily use is the average over up to the last {RATE_DAYS} days (as needed)."
        return "Daily use follows the prescribed schedule."


def panel(c: RequestContext, r: PrescriptionRecord) -> Panel:
    found = supply_forecast(
        **c.args(), kb=c.kb, policy=c.reminders, patient_id=r.patient_id, rx_id=r.id
    )
    recorded = any(s.tracked for s in found.formulations)
    # A plan under way draws on supply, recorded or not: its need is worth showing
    # before anything is dispensed.
    return Panel(
        forecast=found,
        figures=recorded or found.taper_plan_status in UNDER_WAY,
        choices=supply_choices(
            **c.args_without_clock(), kb=c.kb, patient_id=r.patient_id, rx_id=r.id
        ),
    )


def panels(c: RequestContext, current: Iterable[PrescriptionRecord]) -> dict[uuid.UUID, Panel]:
    """A panel for each prescription still taken (active or paused)."""
    return {r.id: panel(c, r) for r in current}
