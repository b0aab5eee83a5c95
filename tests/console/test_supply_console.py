"""Supply in the console: the chart's Supply panel shows the forecast GET /v1/.../supply
gives, its forms record a dispense or a count as the API records them (and refuse what
the API refuses, beside the field), and a taper plan's page shows the dispensing table
and its CSV as GET /v1/taper-plans/{plan}/dispensing gives them; none of it reaches
another care team's clinician or a patient."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from service.config import Settings
from service.db.uow import Database
from tests.api.test_taper_plans import act, approval, setup, taper
from tests.conftest import Account, Builders, FrozenClock, settings_for
from tests.console.conftest import Console, audited_writes

# Tablets of 5 and 2 mg and the 1 mg/mL solution (sold in 473 mL bottles, the
# catalog's diazepam entry): a plan from 20 mg a day that ends on the liquid.
FORMULATIONS = [
    {"kind": "tablet", "strength_mg": 5, "divisible_by": 2},
    {"kind": "tablet", "strength_mg": 2, "divisible_by": 2},
    {"kind": "liquid", "mg_per_ml": 1},
]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Tokens that outlive the weeks these tests move the clock through."""
    return settings_for(database_url, token_ttl_seconds=120 * 86400)


class Rows(HTMLParser):
    """The rows of an element's tables that carry data-formulation, each as the
    formulation and its cells' words, in order; within the element whose id is given."""

    def __init__(self, within: str) -> None:
        super().__init__()
        self.within, self.depth = within, 0
        self.rows: list[tuple[str, list[str]]] = []
        self.cell: list[str] | None = None
        self.in_row = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if self.depth:
            self.depth += tag not in ("input", "br", "meta", "link")
        elif a.get("id") == self.within:
            self.depth = 1
        if not self.depth:
            return
        if self.cell is not None:
            self.cell.append(" ")
        if tag == "tr":
            self.in_row = bool(a.get("data-formulation"))
            if self.in_row:
                self.rows.append((a["data-formulation"] or "", []))
        elif tag in ("td", "th") and self.in_row and a.get("scope") != "rowgroup":
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= tag not in ("input", "br", "meta", "link")
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1][1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def rows(html: str, within: str) -> list[tuple[str, list[str]]]:
    parser = Rows(within)
    parser.feed(html)
    assert parser.rows, f"no rows in #{within}"
    return parser.rows


def amount(value: Any) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def qty(value: Any, unit: str) -> str:
    """As the console writes a quantity: "2.5 tablets", "1 tablet", "473 mL"."""
    if unit == "tablet":
        return f"{amount(value)} {'tablet' if Decimal(str(value)) == 1 else 'tablets'}"
    return f"{amount(value)} {unit}"


def seeded(
    make: Builders, clock: FrozenClock, console: Console
) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
    """A clinician signed in, a patient on diazepam 10 mg twice a day and an approved
    taper of it from 2026-06-15, 25 % every 14 days to 0 mg over the three
    formulations."""
    doc, pat, rx = setup(make, clock)
    body = taper(formulations=FORMULATIONS, floor_dose_mg=0, target_dose_mg=0)
    r = make.client.post(
        f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}/taper-plans",
        json=body,
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    plan = r.get_json()
    r = act(make, doc, plan, "approve", **approval(plan))
    assert r.status_code == 200, r.get_json()
    assert console.sign_in(doc).status_code == 302
    console.get("/console/")  # the signed-in session's CSRF token
    return doc, pat, rx, r.get_json()


def rx_api(pat: Account, rx: dict[str, Any]) -> str:
    return f"/v1/patients/{pat.patient_id}/prescriptions/{rx['id']}"


def api_get(make: Builders, who: Account, path: str) -> Any:
    r = make.client.get(path, headers=who.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json() if r.is_json else r.get_data(as_text=True)


def chart(console: Console, pat: Account) -> str:
    r = console.get(f"/console/patients/{pat.patient_id}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data(as_text=True)


def expected_panel_row(f: dict[str, Any], basis: str) -> list[str]:
    """The panel's cells for one formulation of the API's forecast."""
    unit = f["unit"]
    on_hand = qty(f["on_hand"], unit) if f["tracked"] else "none recorded"
    if f["runs_out_on"] and not f["tracked"]:
        runs = f"needed from {f['runs_out_on']}"
    elif f["runs_out_on"]:
        left = "today" if f["days_left"] == 0 else f"{f['days_left']} days left"
        runs = f"{f['runs_out_on']} ({left})" + (" Refill due" if f["refill_due"] else "")
    else:
        runs = "lasts to the end"
    if f["runs_out_before_plan_ends"]:
        end = f"Runs out before the end {qty(f['shortfall'], unit)} short by {f['plan_ends_on']}"
    else:
        end = f"No: lasts to {f['plan_ends_on']}"
    shown = [f"from {c['starts_on']}: {qty(c['daily_use'], unit)} a day" for c in f["use_changes"]]
    changes = " ".join(shown[:3])
    if len(shown) > 3:
        changes += f" {len(shown) - 3} more " + " ".join(shown[3:])
    assert basis == "taper"
    return [
        f["formulation"],
        on_hand,
        qty(f["daily_use"], unit),
        runs,
        end,
        changes or "none ahead",
    ]


def test_the_supply_panel_shows_the_forecast_the_api_gives(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx, _ = seeded(make, clock, console)
    r = make.client.post(
        f"{rx_api(pat, rx)}/supplies",
        json={"formulation": "tablet 5 mg", "quantity": 30, "dispensed_on": "2026-06-09"},
        headers=doc.headers,
    )
    assert r.status_code == 201, r.get_json()
    page = chart(console, pat)
    got = rows(page, f"supply-{rx['id']}")
    api = api_get(make, doc, f"{rx_api(pat, rx)}/supply")
    assert [label for label, _ in got] == [f["formulation"] for f in api["formulations"]]
    for (_, cells), f in zip(got, api["formulations"], strict=True):
        assert cells == expected_panel_row(f, api["basis"])
    # 30 tablets of 5 mg at 20 mg a day (four tablets) last a week: a refill is due
    # within the ten days of a withdrawal-risk drug, and the panel says so.
    five = next(f for f in api["formulations"] if f["formulation"] == "tablet 5 mg")
    assert five["refill_due"]
    assert five["runs_out_before_plan_ends"]
    assert '<tr data-formulation="tablet 5 mg" class="refill-due">' in page
    assert "A refill is due when fewer than 10 days are left." in page


def dispense_form(rx: dict[str, Any], **fields: str) -> dict[str, str]:
    return {"prescription": rx["id"], "formulation": "tablet 2 mg", "quantity": "28", **fields}


def test_the_forms_record_a_dispense_and_a_count_as_the_api_does(
    console: Console, make: Builders, clock: FrozenClock, database: Database
) -> None:
    doc, pat, rx, _ = seeded(make, clock, console)
    base = f"/console/patients/{pat.patient_id}/supply"
    r = console.post(f"{base}/dispense", dispense_form(rx, dispensed_on="2026-06-08"))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert r.headers["Location"].endswith(f"/console/patients/{pat.patient_id}#supply-{rx['id']}")
    page = chart(console, pat)
    assert "Dispense recorded: 28 tablets of tablet 2 mg on 2026-06-08." in page
    cells = dict(rows(page, f"supply-{rx['id']}"))["tablet 2 mg"]
    api = api_get(make, doc, f"{rx_api(pat, rx)}/supply")
    two = next(f for f in api["formulations"] if f["formulation"] == "tablet 2 mg")
    assert cells[1] == qty(two["on_hand"], "tablet") == "28 tablets"

    r = console.post(
        f"{base}/count",
        {"prescription": rx["id"], "formulation": "tablet 2 mg", "quantity": "13.5"},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    page = chart(console, pat)
    assert "Count recorded: 13.5 tablets of tablet 2 mg left." in page
    assert dict(rows(page, f"supply-{rx['id']}"))["tablet 2 mg"][1] == "13.5 tablets"

    entries = api_get(make, doc, f"{rx_api(pat, rx)}/supplies")
    assert [(e["kind"], e["quantity"], e["dispensed_on"]) for e in entries] == [
        ("dispensed", 28, "2026-06-08"),
        ("counted", 13.5, None),
    ]
    assert {e["recorded_by"] for e in entries} == {str(doc.id)}

    # The same two entries through the API leave the same audit entries.
    other_doc, other, other_rx = setup(make, clock)
    for path, body in (
        ("supplies", {"formulation": "tablet 2 mg", "quantity": 28, "dispensed_on": "2026-06-08"}),
        ("supplies/count", {"formulation": "tablet 2 mg", "quantity": 13.5}),
    ):
        r = make.client.post(
            f"{rx_api(other, other_rx)}/{path}", json=body, headers=other_doc.headers
        )
        assert r.status_code == 201, r.get_json()
    assert supply_writes(database, pat) == supply_writes(database, other)
    assert [w["subtype"] for w in supply_writes(database, pat)] == [
        "supply.dispensed",
        "supply.counted",
    ]


def supply_writes(database: Database, pat: Account) -> list[dict[str, Any]]:
    assert pat.patient_id is not None
    return [
        w
        for w in audited_writes(database, pat.patient_id)
        if str(w["subtype"]).startswith("supply.")
    ]


BAD = [
    pytest.param({"quantity": "1.3"}, "quantity", "whole, half or quarter tablets", id="thirds"),
    pytest.param({"quantity": "-2"}, "quantity", "greater than or equal to 0", id="negative"),
    pytest.param({"quantity": "many"}, "quantity", "Not a valid number.", id="not-a-number"),
    pytest.param({"quantity": ""}, "quantity", "Missing data", id="blank"),
    pytest.param({"dispensed_on": "2026-07-01"}, "dispensed_on", "future", id="future-date"),
    pytest.param({"formulation": "tablet 7 mg"}, "formulation", "Not a formulation", id="other"),
]


@pytest.mark.parametrize(("fields", "name", "words"), BAD)
def test_a_refused_dispense_names_its_field_and_records_nothing(
    console: Console,
    make: Builders,
    clock: FrozenClock,
    fields: dict[str, str],
    name: str,
    words: str,
) -> None:
    doc, pat, rx, _ = seeded(make, clock, console)
    url = f"/console/patients/{pat.patient_id}/supply/dispense"
    r = console.post(url, dispense_form(rx, **fields))
    assert r.status_code == 422, r.get_data(as_text=True)
    page = r.get_data(as_text=True)
    field_id = f"sup-{rx['id']}-dispense-{name.replace('_', '-')}"
    error = re.search(rf'<p class="error" id="{field_id}-error">([^<]+)</p>', page)
    assert error, page
    assert words in error.group(1)
    assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', page, re.S)
    # The alert at the top links to the field; the form is open with what was typed.
    assert f'href="#{field_id}"' in page
    assert '<details class="supply-record" open>' in page
    # Only the form sent is marked: the count form beside it is not.
    assert page.count('aria-invalid="true"') == 1
    assert f'id="sup-{rx["id"]}-count-{name.replace("_", "-")}-error"' not in page
    if name == "quantity" and fields["quantity"]:
        assert f'value="{fields["quantity"]}"' in page
    assert api_get(make, doc, f"{rx_api(pat, rx)}/supplies") == []


def test_a_form_without_its_prescription_is_refused(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    _, pat, _, _ = seeded(make, clock, console)
    r = console.post(f"/console/patients/{pat.patient_id}/supply/count", {"quantity": "3"})
    assert r.status_code == 422
    assert "Not a valid prescription id." in r.get_data(as_text=True)


def expected_dispensing_rows(body: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The table's rows from GET .../dispensing: each period's lines that need or
    dispense something (as the CSV lists them), then the totals."""

    def cells(line: dict[str, Any], total: bool) -> list[str]:
        unit = line["unit"]
        dispense = qty(line["dispense"], unit)
        packs = line["bottles"]
        if packs:
            written = " + ".join(f"{b['count']} x {amount(b['size_ml'])} mL" for b in packs)
            several = len(packs) > 1 or packs[0]["count"] > 1
            dispense = f"{written} ({dispense})" if several else written
        carried = "—" if total else qty(line["carried_in"], unit)
        return [
            line["formulation"],
            qty(line["needed"], unit),
            carried,
            dispense,
            qty(line["left_over"], unit),
        ]

    out = [
        (line["formulation"], cells(line, False))
        for p in body["periods"]
        for line in p["lines"]
        if line["needed"] > 0 or line["dispense"] > 0
    ]
    return out + [(line["formulation"], cells(line, True)) for line in body["totals"]]


@pytest.mark.parametrize("period_days", [7, 28, 56])
def test_the_plan_page_shows_the_dispensing_table_and_csv_the_api_gives(
    console: Console, make: Builders, clock: FrozenClock, period_days: int
) -> None:
    doc, pat, _, plan = seeded(make, clock, console)
    page_url = f"/console/patients/{pat.patient_id}/tapers/{plan['id']}"
    query = "" if period_days == 28 else f"?period_days={period_days}"
    r = console.get(page_url + query)
    assert r.status_code == 200, r.get_data(as_text=True)
    page = r.get_data(as_text=True)
    api = api_get(make, doc, f"/v1/taper-plans/{plan['id']}/dispensing?period_days={period_days}")
    assert rows(page, "dispensing") == expected_dispensing_rows(api)
    assert f'<option value="{period_days}" selected>' in page
    assert f"What to dispense for each {period_days}-day period from {api['start']}" in page
    # Some period dispenses the solution in whole 473 mL bottles.
    liquid = [t for t in api["totals"] if t["unit"] == "mL"]
    assert liquid, api["totals"]
    assert liquid[0]["bottles"]
    assert "x 473 mL" in page

    csv_url = f"{page_url}/dispensing.csv?period_days={period_days}"
    assert f'href="{csv_url}"' in page.replace("&amp;", "&")
    r = console.get(csv_url)
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    api_csv = make.client.get(
        f"/v1/taper-plans/{plan['id']}/dispensing.csv?period_days={period_days}",
        headers=doc.headers,
    )
    name = f"dispensing-{plan['id']}-v{api['plan_version']}-{api['status']}.csv"
    assert r.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert api_csv.headers["Content-Disposition"] == r.headers["Content-Disposition"]
    assert r.get_data(as_text=True) == api_csv.get_data(as_text=True)


def test_another_period_is_swapped_in_by_htmx(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat, _, plan = seeded(make, clock, console)
    url = f"/console/patients/{pat.patient_id}/tapers/{plan['id']}/dispensing"
    r = console.htmx("GET", url, {"period_days": "14"})
    assert r.status_code == 200
    fragment = r.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="dispensing">')
    api = api_get(make, doc, f"/v1/taper-plans/{plan['id']}/dispensing?period_days=14")
    assert rows(fragment, "dispensing") == expected_dispensing_rows(api)
    # Without htmx, the plan's page at the table; a period not offered is four weeks.
    r = console.get(url, query_string={"period_days": "14"})
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"{plan['id']}?period_days=14#dispensing")
    r = console.get(f"/console/patients/{pat.patient_id}/tapers/{plan['id']}?period_days=9")
    assert '<option value="28" selected>' in r.get_data(as_text=True)


def test_another_clinician_and_a_patient_reach_none_of_it(
    console: Console, make: Builders, clock: FrozenClock
) -> None:
    doc, pat, rx, plan = seeded(make, clock, console)
    stranger = make.clinician()
    outsider = Console(console.client.application.test_client())
    assert outsider.sign_in(stranger).status_code == 302
    outsider.get("/console/")
    plan_url = f"/console/patients/{pat.patient_id}/tapers/{plan['id']}"
    for path in (
        f"/console/patients/{pat.patient_id}",
        plan_url,
        f"{plan_url}/dispensing?period_days=14",
        f"{plan_url}/dispensing.csv",
    ):
        r = outsider.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "diazepam" not in r.get_data(as_text=True)
    r = outsider.post(f"/console/patients/{pat.patient_id}/supply/dispense", dispense_form(rx))
    assert r.status_code == 404
    assert api_get(make, doc, f"{rx_api(pat, rx)}/supplies") == []

    # A patient's credentials sign nobody in to the console.
    patient = Console(console.client.application.test_client())
    assert patient.sign_in(pat).status_code == 403
    for path in (f"/console/patients/{pat.patient_id}", f"{plan_url}/dispensing.csv"):
        r = patient.get(path)
        assert r.status_code == 302
        assert r.headers["Location"].startswith("/console/login")
    r = patient.post(f"/console/patients/{pat.patient_id}/supply/dispense", dispense_form(rx))
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/console/login")
    assert api_get(make, doc, f"{rx_api(pat, rx)}/supplies") == []
    assert dt.date.fromisoformat(plan["steps"][0]["start_date"]) == dt.date(2026, 6, 15)
