"""The income-tax simulator's form in a real browser, accessible, with the result explained."""

import pytest

pytestmark = pytest.mark.e2e


def test_income_tax_form(new_page, check_a11y):
    page = new_page()
    page.goto("/simulateurs/impot-sur-le-revenu/")
    check_a11y(page)
    page.get_by_text("Marié(e) ou pacsé(e)").click()
    page.get_by_label("Enfants à charge", exact=True).fill("2")
    page.get_by_label("Autres revenus nets imposables (€)").fill("60000")
    page.get_by_role("button", name="Calculer").click()
    result = page.locator("#income-tax-result")
    result.wait_for()
    assert "Impôt net estimé : 2606 €" in result.inner_text()
    check_a11y(page)
