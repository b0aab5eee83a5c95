"""The console's worklist: what needs the signed-in clinician now, each item linked to
the page where it is acted on, and marked done from here."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from service.console.blueprint import bp
from service.console.session import console_ctx, signed_in
from service.domain.accounts import Role
from service.usecases import worklist as work
from service.usecases.worklist_items import Band, ItemKind, Page, Target

KIND_LABELS = {
    ItemKind.FINDING: "New findings",
    ItemKind.DOSE: "Missed or skipped doses",
    ItemKind.SYMPTOM: "Symptom reports",
    ItemKind.DRAFT: "Plans to approve",
    ItemKind.STEP: "Taper steps this week",
    ItemKind.ACTIVATION: "Not activated",
}
KIND_BADGES = {
    ItemKind.FINDING: "Finding",
    ItemKind.DOSE: "Dose",
    ItemKind.SYMPTOM: "Symptom report",
    ItemKind.DRAFT: "Taper plan",
    ItemKind.STEP: "Taper step",
    ItemKind.ACTIVATION: "Activation",
}
BAND_WORDS = {Band.HIGH: "Urgent", Band.MID: "Soon", Band.LOW: "To do"}
# The headings of the pages' sections an item is about (chart/chart.html,
# tapers/plan.html, tapers/_changes.html).
ANCHORS = {
    "findings": "h-findings",
    "this-week": "h-week",
    "symptoms": "reports-heading",
    "approve": "approve-heading",
}


def target_url(target: Target) -> str:
    """The console page where an item is acted on."""
    anchor = ANCHORS.get(target.section or "")
    if target.page is Page.CHART:
        return url_for("console.patient_chart", patient_id=target.patient_id, _anchor=anchor)
    if target.page is Page.TAPER_PLAN:
        return url_for(
            "console.taper_plan",
            patient_id=target.patient_id,
            plan_id=target.plan_id,
            _anchor=anchor,
        )
    return url_for("console.patients")


def _page(**context: object) -> str:
    return render_template(
        "worklist.html",
        section="worklist",
        labels=KIND_LABELS,
        badges=KIND_BADGES,
        bands=BAND_WORDS,
        link=target_url,
        **context,
    )


@bp.route("/")
@signed_in
def worklist() -> ResponseReturnValue:
    if g.principal.role is not Role.CLINICIAN:
        # Administrators care for no patients: their work is staff and care teams.
        return _page(admin=True)
    c = console_ctx()
    return _page(work=work.worklist(**c.planning_args()))


@bp.route("/worklist/done", methods=["POST"])
@signed_in
def worklist_done() -> ResponseReturnValue:
    """Mark an item done; with htmx the item is swapped out of the list."""
    c = console_ctx()
    mark = work.mark_done(
        **c.args(), key=request.form.get("key", ""), note=request.form.get("note")
    )
    if request.headers.get("HX-Request"):
        return render_template("worklist/done.html", mark=mark)
    flash("Marked done.")
    return redirect(url_for("console.worklist"))
