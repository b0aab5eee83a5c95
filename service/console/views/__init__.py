"""The console's pages, one module per area; importing them registers their routes."""

from service.console.views import (
    admin,
    auth,
    chart,
    dispensing,
    patients,
    prescribe,
    supply,
    tapers,
    tapers_plan,
    worklist,
)

__all__ = [
    "admin",
    "auth",
    "chart",
    "dispensing",
    "patients",
    "prescribe",
    "supply",
    "tapers",
    "tapers_plan",
    "worklist",
]
