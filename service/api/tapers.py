"""Taper plans: previews for clinicians."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from service.api.context import caller, require_auth, services
from service.api.docs import AUTH, errors
from service.api.schemas.tapers import TaperPreviewSchema, TaperSettingsSchema
from service.usecases import tapers
from service.usecases.tapers import TaperPreview

blp = Blueprint("tapers", __name__, url_prefix="/v1/taper-plans", description="Taper plans")


@blp.route("/preview")
class Preview(MethodView):
    decorators = [require_auth]

    @blp.arguments(TaperSettingsSchema)
    @blp.response(200, TaperPreviewSchema)
    @errors(blp, *AUTH, 403)
    def post(self, body: dict[str, Any]) -> TaperPreview:
        """Generate a taper plan to review (clinicians; nothing is stored).

        The first step is the current dose and the last the target. Each step gives
        its dates (end inclusive), daily dose, cut from the step before, flags
        (`exceeds_cap_needs_approval`, `jump_off`, `extended`) and what to take at
        each time: tablets (halves, quarters as scored) or millilitres of a liquid,
        adding up exactly to the dose. Settings no formulation can make, a negative
        dose, a zero cap or a target above the start get 422 saying which field.
        """
        return tapers.preview_taper(caller=caller(), kb=services().knowledge, body=body)
