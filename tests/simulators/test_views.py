"""The simulator's public form: the result explained, errors shown, nothing stored."""

from django.test import Client
from django.urls import reverse


def test_form_computes_and_explains(db, monkeypatch):
    from simulators import views

    monkeypatch.setattr(views, "search_articles", lambda *a, **k: [])
    response = Client().get(
        reverse("simulators:income_tax"),
        {"situation": "couple", "children": "2", "other_income": "60000"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Impôt net estimé : 2606 €" in html
    assert "Nombre de parts : 3" in html
    assert "taux marginal : 11 %" in html


def test_blank_form_and_bad_input(db):
    assert Client().get(reverse("simulators:income_tax")).status_code == 200
    bad = Client().get(reverse("simulators:income_tax"), {"situation": "single", "children": "-1"})
    assert bad.status_code == 400
    assert "fr-input-group--error" in bad.content.decode()


def test_form_second_level_disability_pensions_and_credits(db, monkeypatch):
    from simulators import views

    monkeypatch.setattr(views, "search_articles", lambda *a, **k: [])
    response = Client().get(
        reverse("simulators:income_tax"),
        {
            "situation": "single",
            "pension_1": "24000",
            "disabled_1": "on",
            "home_employment": "4000",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200, html
    assert "Abattement de 10 % sur les pensions, plafonné pour le foyer : 2400 €" in html
    assert "Nombre de parts : 1,5" in html or "Nombre de parts : 1.5" in html
    assert "Crédit d&#x27;impôt emploi à domicile : 2000 €" in html
    assert '<details class="fr-mb-3w" open>' in html


def test_form_checks_the_counts_of_disabled_and_young_children(db):
    response = Client().get(
        reverse("simulators:income_tax"),
        {"situation": "single", "children": "1", "disabled_children": "2", "childcare": "900"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "ne peut pas dépasser celui des enfants à charge" in html
    assert "Indiquez combien d&#x27;enfants de moins de 6 ans sont gardés." in html
