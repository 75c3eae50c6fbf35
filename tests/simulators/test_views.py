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
