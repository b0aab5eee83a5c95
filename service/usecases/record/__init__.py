"""The rest of the patient's record the checks read: coded conditions (set by the
care team), products the patient takes without a prescription (recorded by the
patient or the care team), and the findings of the record's latest screening
(docs/clinical.md, "Conditions" and "Re-screening of the whole record"). Every
change is audited and re-screens the record; nothing is deleted (conditions and
products are ended)."""

from service.usecases.record.conditions import add_condition, end_condition, list_conditions
from service.usecases.record.findings import acknowledge_finding, list_findings
from service.usecases.record.products import add_product, end_product, list_products
from service.usecases.record.views import (
    ConditionView,
    FindingView,
    ProductView,
    finding_view,
)

__all__ = [
    "ConditionView",
    "FindingView",
    "ProductView",
    "acknowledge_finding",
    "add_condition",
    "add_product",
    "end_condition",
    "end_product",
    "finding_view",
    "list_conditions",
    "list_findings",
    "list_products",
]
