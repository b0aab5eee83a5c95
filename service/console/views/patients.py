"""The console's patient pages."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from service.console.blueprint import bp
from service.console.session import signed_in


@bp.route("/patients")
@signed_in
def patients() -> ResponseReturnValue:
    return render_template("worklist.html", section="patients")
