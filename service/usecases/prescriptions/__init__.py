"""Prescriptions: entered by the care team, read by the patient, versioned on change.

One module per concern: `create` (prescribing), `screen` (the checks prescribing
runs, and a screen of a candidate prescription that stores nothing), `revise` (a
change of terms), `status` (pause, resume, discontinue), `reading`, `versions`
(storing the next version), `findings` (screening answers), `views` (what clients
see)."""

from service.usecases.prescriptions.create import create_prescription
from service.usecases.prescriptions.reading import (
    get_prescription,
    list_prescriptions,
    list_versions,
)
from service.usecases.prescriptions.revise import revise_prescription
from service.usecases.prescriptions.screen import (
    PrescriptionScreen,
    Requirement,
    ScreenedFinding,
    conflict_findings,
    screen_prescription,
)
from service.usecases.prescriptions.status import change_status
from service.usecases.prescriptions.versions import VersionFacts, append_version
from service.usecases.prescriptions.views import PrescriptionRecord

__all__ = [
    "PrescriptionRecord",
    "PrescriptionScreen",
    "Requirement",
    "ScreenedFinding",
    "VersionFacts",
    "append_version",
    "change_status",
    "conflict_findings",
    "create_prescription",
    "get_prescription",
    "list_prescriptions",
    "list_versions",
    "revise_prescription",
    "screen_prescription",
]
