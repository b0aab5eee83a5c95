"""The console's admin pages: staff accounts and care teams."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from service.console.blueprint import bp
from service.console.session import admin_only


@bp.route("/admin/staff")
@admin_only
def staff() -> ResponseReturnValue:
    return render_template("worklist.html", section="admin")
