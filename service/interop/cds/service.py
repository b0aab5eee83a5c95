"""The medication-safety service (`POST /cds-services/medtrack-medication-safety`)
for order-select and order-sign: the call's draft orders checked by the same checker
as /v1 (service.usecases.cds), answered as CDS Hooks 2.0 cards."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue

from service.interop.cds import auth, cards
from service.interop.cds.blueprint import bp
from service.interop.cds.discovery import SERVICE_ID
from service.interop.cds.requests import read_call
from service.usecases import cds
from service.web.context import ctx


@bp.post(f"/{SERVICE_ID}")
def medication_safety() -> ResponseReturnValue:
    c = ctx(cds.AGENT)
    client = auth.authenticate(c, audiences=[auth.audience(c.settings, request.path)])
    call = read_call(
        c.kb.catalog,
        request.get_json(silent=True),
        client=client.iss,
        patient_system=client.patient_system,
    )
    base_url = auth.public_url(c.settings)
    issued = cds.check_orders(
        **c.args(), kb=c.kb, call=call, render=lambda a: cards.render(a, base_url)
    )
    return jsonify({"cards": [card.body for card in issued]})
