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


def test_the_tax_year_is_chosen_among_those_the_model_covers(db, monkeypatch):
    """The form offers the installed model's latest three tax years (read from its scale's
    parameters); each computes with its own year's scale; another year is refused."""
    from simulators import views
    from simulators.forms import default_year
    from simulators.openfisca import covered_years, tax_benefit_system

    monkeypatch.setattr(views, "search_articles", lambda *a, **k: [])
    years = covered_years()
    assert years == sorted(years, reverse=True) and len(years) == 3
    # The latest covered year is the one after the scale's last revaluation in the model.
    scale = tax_benefit_system().parameters.impot_revenu.bareme_ir_depuis_1945.bareme
    last = max(
        int(value.instant_str[:4])
        for bracket in scale.brackets
        for value in bracket.threshold.values_list
    )
    assert years[0] == last + 1
    assert default_year() in years

    url = reverse("simulators:income_tax")
    blank = Client().get(url).content.decode()
    for year in years:
        assert f'<option value="{year}"' in blank
    amounts = {}
    for year in years:
        html = Client().get(url, {"situation": "single", "salary_1": "30000", "year": year})
        text = html.content.decode()
        assert html.status_code == 200
        assert f"Barème {year}" in text
        amounts[year] = text.split("Impôt net estimé : ")[1].split(" €")[0]
    # Each year's own scale: the amounts differ from year to year.
    assert len(set(amounts.values())) == len(years), amounts
    old = Client().get(url, {"situation": "single", "salary_1": "30000", "year": years[-1] - 5})
    assert old.status_code == 400
    assert (
        "fr-select-group" in old.content.decode()
        and "fr-input-group--error" in old.content.decode()
    )
