"""Supervisor dashboard in a real browser: open it, change the range, download a CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from .conftest import expect_console_error

DASHBOARD = "/supervision/tableau-de-bord/"


def test_supervisor_opens_the_dashboard_changes_the_range_and_downloads_a_csv(
    new_page, check_a11y, demo, e2e_server
):
    page = new_page(demo.supervisor)
    page.get_by_role("link", name="Tableau de bord").first.click()
    page.wait_for_url(f"**{DASHBOARD}")
    assert page.get_by_role("heading", level=1).inner_text() == "Tableau de bord"
    # Charts drawn by Chart.js from the JSON data, each with its table alternative.
    page.wait_for_function(
        "() => window.Chart && Object.keys(Chart.instances).length >= 1", timeout=10_000
    )
    check_a11y(page)

    # Change the range: the last 30 days, then a custom range; the filters go into the URL.
    page.get_by_label("Période", exact=True).select_option("30j")
    page.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url("**periode=30j**")
    contacts_30 = page.locator("[data-kpi=contacts] .guichet-kpi__value").inner_text()
    assert int(contacts_30.replace("\u202f", "").replace("\xa0", "")) >= 1
    check_a11y(page)

    today = timezone.localdate()
    page.get_by_label("Période", exact=True).select_option("perso")
    page.get_by_label("Date de début").fill((today - timedelta(days=14)).isoformat())
    page.get_by_label("Date de fin").fill(today.isoformat())
    page.get_by_role("button", name="Appliquer les filtres").click()
    page.wait_for_url("**periode=perso**")
    assert f"du={(today - timedelta(days=14)).isoformat()}" in page.url
    check_a11y(page)

    # Download the filtered cases; the progress indicator reports the end.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter les demandes (CSV)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("guichet-demandes-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][0] == "Référence"
    assert len(rows) >= 2
    status = page.locator("[data-dashboard-progress-text]")
    status.filter(has_text="Export terminé").wait_for(state="attached")
    check_a11y(page)

    # A table export from the same page.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Exporter en CSV : Indicateurs par canal").click()
    assert download_info.value.suggested_filename.startswith("guichet-canaux-")

    # Both exports are in the audit log.
    exports = e2e_server.shell_json(
        "from contactcenter.models import AuditLog\n"
        "result = list(AuditLog.objects.filter(action='export', actor__email="
        f"'{demo.supervisor}').values_list('detail__export', flat=True))"
    )
    assert {"demandes", "canaux"} <= set(exports)


def test_a_wrong_range_is_explained_and_an_agent_is_refused(new_page, check_a11y, demo):
    page = new_page(demo.supervisor)
    # Both pages answer with an error status on purpose (400, 403): the browser logs it.
    expect_console_error(page, r"status of 400 .*/supervision/tableau-de-bord/\?periode=perso")
    page.goto(f"{DASHBOARD}?periode=perso&du=2026-03-09&au=2026-03-01")
    alert = page.locator("main [role=alert]").first
    assert "La date de fin doit suivre la date de début." in alert.inner_text()
    assert page.get_by_label("Date de début").input_value() == "2026-03-09"
    check_a11y(page)
    agent = new_page(demo.agent_fiscalite)
    expect_console_error(agent, r"status of 403 .*/supervision/tableau-de-bord/")
    response = agent.goto(DASHBOARD)
    assert response.status == 403
