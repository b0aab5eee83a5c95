"""The console's worklist: what needs the signed-in clinician now."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from service.console.blueprint import bp
from service.console.session import signed_in


@bp.route("/")
@signed_in
def worklist() -> ResponseReturnValue:
    return render_template("worklist.html", section="worklist")
