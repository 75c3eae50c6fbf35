"""The income-tax simulator in a real browser (computed by OpenFisca-France): the form, its
second-level fields with the keyboard, "Joindre ma simulation" through the login; and the
forum's public API read from a page and over HTTP, pseudonyms only."""

import re

import httpx
import pytest

from .conftest import DEMO

pytestmark = pytest.mark.e2e

# The first simulation of a server process loads OpenFisca's tax-benefit system (seconds).
FIRST = 90_000


def test_income_tax_form(new_page, check_a11y):
    page = new_page()
    page.goto("/simulateurs/impot-sur-le-revenu/", timeout=FIRST)
    check_a11y(page)
    page.get_by_text("Marié(e) ou pacsé(e)").click()
    page.get_by_label("Enfants à charge", exact=True).fill("2")
    page.get_by_label("Autres revenus nets imposables (€)").fill("60000")
    page.get_by_role("button", name="Calculer").click(timeout=FIRST)
    result = page.locator("#income-tax-result")
    result.wait_for(timeout=FIRST)
    assert "Impôt net estimé : 2606 €" in result.inner_text()
    assert "OpenFisca-France" in result.inner_text()
    check_a11y(page)


def test_second_level_fields_with_the_keyboard(new_page, check_a11y):
    page = new_page()
    page.goto("/simulateurs/impot-sur-le-revenu/", timeout=FIRST)
    details = page.locator("#income-tax-form details")
    home = page.get_by_label("Emploi d'un salarié à domicile : sommes versées (€)")
    assert not home.is_visible()  # disclosed on demand
    page.get_by_label("Pensions et retraites du déclarant 1 (€)").fill("24000")
    summary = details.locator("summary")
    summary.focus()
    page.keyboard.press("Enter")
    assert details.get_attribute("open") is not None
    check_a11y(page)
    page.keyboard.press("Tab")  # the first field inside: the declarant's disability card
    disabled = page.get_by_label(re.compile("Le déclarant 1 a la carte mobilité inclusion"))
    assert disabled.evaluate("el => el === document.activeElement")
    page.keyboard.press("Space")
    assert disabled.is_checked()
    home.focus()
    page.keyboard.press("Control+A")  # replaces the 0 the field starts with
    page.keyboard.type("4000")
    page.keyboard.press("Enter")  # submits the form
    result = page.locator("#income-tax-result")
    result.wait_for(timeout=FIRST)
    text = result.inner_text()
    assert re.search(r"Nombre de parts : 1[,.]5", text), text
    assert "Abattement de 10 % sur les pensions, plafonné pour le foyer : 2400 €" in text
    assert "Crédit d'impôt emploi à domicile : 2000 €" in text
    # The second level stays open on the result, with what was typed.
    assert page.locator("#income-tax-form details").get_attribute("open") is not None
    assert (
        page.get_by_label("Emploi d'un salarié à domicile : sommes versées (€)").input_value()
        == "4000"
    )
    check_a11y(page)


def _close_simulation_requests(e2e_server):
    e2e_server.shell(
        "from django.utils import timezone\n"
        "from contactcenter.models import Case\n"
        "Case.objects.filter(citizen__email='" + DEMO.citizen + "', "
        "events__payload__source='simulator').exclude(status='closed')"
        ".update(status='closed', closed_at=timezone.now())"
    )


def test_attach_the_simulation_through_the_login(new_page, check_a11y, e2e_server):
    _close_simulation_requests(e2e_server)
    page = new_page()
    page.goto("/simulateurs/impot-sur-le-revenu/?situation=single&other_income=30000&children=1")
    page.locator("#income-tax-result").wait_for(timeout=FIRST)
    with page.expect_navigation():
        page.get_by_role("button", name="Joindre ma simulation à une demande").click()
    assert "/connexion/" in page.url
    page.get_by_label("Adresse électronique").fill(DEMO.citizen)
    page.get_by_label("Mot de passe").fill(DEMO.password)
    with page.expect_navigation(wait_until="load"):
        page.locator("main").get_by_role("button", name="Se connecter").click()
    # Back on the simulation kept in the session: what was entered, the result, one button.
    assert page.url.endswith("/simulateurs/impot-sur-le-revenu/joindre/")
    main = page.locator("main").inner_text()
    assert "Autres revenus nets imposables (€) : 30000" in main
    assert "Impôt net : " in main
    check_a11y(page)
    page.locator("main").get_by_role("button", name="Joindre ma simulation à une demande").click()
    page.wait_for_url(re.compile(r"/espace/demandes/[^/]+/$"))
    case_url = page.url
    thread = page.locator("main").inner_text()
    assert "Votre simulation est jointe à la demande" in thread
    assert "Ma simulation de l'impôt sur le revenu 2025" in thread
    assert "Enfants à charge : 2" not in thread and "Enfants à charge : 1" in thread
    check_a11y(page)
    # Once: the same simulation attached again leads to the same request.
    page.goto("/simulateurs/impot-sur-le-revenu/?situation=single&other_income=30000&children=1")
    with page.expect_navigation():
        page.get_by_role("button", name="Joindre ma simulation à une demande").click()
    assert page.url == case_url
    _close_simulation_requests(e2e_server)


def test_forum_api_shows_pseudonyms_only(new_page, e2e_server):
    names = ("Camille", "Martin", "Louis", "Bernard", "Aïcha", "Benali", "@example.fr")
    with httpx.Client(base_url=e2e_server.url, timeout=30) as client:
        listing = client.get("/api/forum/threads/")
        assert listing.status_code == 200
        threads = listing.json()["results"]
        assert threads
        texts = [listing.text]
        for thread in threads[:5]:
            posts = client.get(f"/api/forum/threads/{thread['id']}/posts/")
            assert posts.status_code == 200
            texts.append(posts.text)
    authors = {t["author"] for t in threads}
    assert {"Colibri42", "Mistral_07"} <= authors | {
        p["author"] for text in texts[1:] for p in httpx.Response(200, text=text).json()["results"]
    }
    for name in names:
        assert all(name not in text for text in texts), name
    # The same read from a page of the site (same origin, the site's CSP).
    page = new_page()
    page.goto("/forum/")
    from_page = page.evaluate(
        "fetch('/api/forum/threads/').then(r => r.json()).then(d => d.results.map(t => t.id))"
    )
    assert from_page == [t["id"] for t in threads]
