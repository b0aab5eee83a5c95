"""Taper plans of a patient's prescription, by concern: drafting one
(taper_drafting), running it (taper_running, with its versions in taper_versions)
and showing it (taper_reporting). This module names them all in one place for the
API and the other use cases."""

from service.usecases.taper_drafting import create_taper_plan
from service.usecases.taper_reporting import (
    REPORTS_SHOWN,
    PlanVersionView,
    StepRecordView,
    SymptomReportView,
    TaperPlanView,
    get_taper_plan,
    readable_plan,
    report_view,
    taper_chart,
)
from service.usecases.taper_running import (
    approve_taper_plan,
    cancel_taper_plan,
    cancel_with_prescription,
    extend_taper_plan,
    pause_taper_plan,
    resume_taper_plan,
    step_back_taper_plan,
)
from service.usecases.taper_versions import add_plan_version, reschedule_steps, schedule_next

__all__ = [
    "REPORTS_SHOWN",
    "PlanVersionView",
    "StepRecordView",
    "SymptomReportView",
    "TaperPlanView",
    "add_plan_version",
    "approve_taper_plan",
    "cancel_taper_plan",
    "cancel_with_prescription",
    "create_taper_plan",
    "extend_taper_plan",
    "get_taper_plan",
    "pause_taper_plan",
    "readable_plan",
    "report_view",
    "reschedule_steps",
    "resume_taper_plan",
    "schedule_next",
    "step_back_taper_plan",
    "taper_chart",
]
