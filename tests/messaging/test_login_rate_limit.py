"""Login is rate limited by django-axes: 5 failures lock the account for 15 minutes."""

import pytest
from django.test import Client
from django.urls import reverse

PASSWORD = "motdepasse-solide-2026"


def attempt(client, email, password):
    return client.post(reverse("login"), {"username": email, "password": password})


@pytest.mark.django_db
def test_wrong_password_shows_precise_error_and_keeps_email(citizen):
    response = attempt(Client(), citizen.email, "mauvais")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Adresse électronique ou mot de passe incorrect" in html
    assert f'value="{citizen.email}"' in html


@pytest.mark.django_db
def test_correct_password_logs_in_and_goes_to_space(citizen):
    response = attempt(Client(), citizen.email, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home") or response["Location"].endswith("/espace/")


@pytest.mark.django_db
def test_five_failures_lock_the_account_even_with_the_right_password(citizen):
    client = Client()
    for _ in range(4):
        assert attempt(client, citizen.email, "mauvais").status_code == 200
    locked = attempt(client, citizen.email, "mauvais")
    assert locked.status_code == 429
    assert "Compte temporairement bloqué" in locked.content.decode()
    # The right password no longer opens the session during the cool-off.
    again = attempt(client, citizen.email, PASSWORD)
    assert again.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_changing_the_case_of_the_email_does_not_bypass_the_lock(citizen):
    client = Client()
    variants = [citizen.email, citizen.email.upper(), citizen.email.title()]
    for i in range(5):
        attempt(client, variants[i % 3], "mauvais")
    response = attempt(client, citizen.email.upper(), PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_lock_is_per_account_another_account_still_logs_in(citizen, citizen2):
    client = Client()
    for _ in range(5):
        attempt(client, citizen.email, "mauvais")
    response = attempt(client, citizen2.email, PASSWORD)
    assert response.status_code == 302


@pytest.mark.django_db
def test_success_before_the_limit_resets_the_failure_count(citizen):
    client = Client()
    for _ in range(4):
        attempt(client, citizen.email, "mauvais")
    assert attempt(client, citizen.email, PASSWORD).status_code == 302
    client = Client()
    for _ in range(4):
        assert attempt(client, citizen.email, "mauvais").status_code == 200
    assert attempt(client, citizen.email, PASSWORD).status_code == 302
