"""The public home: no login, the FAQ search and themes, the ways to contact, each service's
telephone and hours; logged-in people go to their space or the console."""

import pytest
from django.urls import reverse

from contactcenter.models import Service
from knowledge.models import Article
from routing.models import OpeningHours

pytestmark = pytest.mark.django_db


def test_visitors_get_the_public_home(client, topic_a, service_a):
    Service.objects.filter(pk=service_a.pk).update(phone="+33140000101")
    OpeningHours.objects.create(service=service_a, weekday=0, start="08:30", end="17:30")
    Article.objects.create(
        slug="declarer",
        title="Déclarer ses revenus",
        body="Texte",
        topic=topic_a,
        status=Article.Status.PUBLISHED,
        audience=Article.Audience.PUBLIC,
    )
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{reverse("knowledge:faq")}"' in html and 'name="q"' in html
    assert f'href="{reverse("knowledge:faq_topic", args=[topic_a.slug])}"' in html
    assert f'href="{reverse("login")}"' in html and f'href="{reverse("accounts:signup")}"' in html
    assert f'href="{reverse("messaging:new_request")}"' in html
    assert f'href="{reverse("chat:start")}"' in html
    assert f'href="{reverse("routing:callback_new")}"' in html
    assert service_a.name in html
    assert 'href="tel:+33140000101">01 40 00 01 01</a>' in html
    assert "Le lundi de 8 h 30 à 17 h 30" in html
    # Nothing personal, and the page may be cached like any public page.
    assert "Se déconnecter" not in html


@pytest.mark.parametrize(
    ("persona", "target"), [("citizen", "messaging:space"), ("agent_a", "console:home")]
)
def test_logged_in_people_go_to_their_home(client, request, persona, target):
    client.force_login(request.getfixturevalue(persona))
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == reverse(target)


def test_service_phone_is_stored_in_e164(service_a):
    service_a.phone = "01 40 00 01 01"
    service_a.full_clean()
    assert service_a.phone == "+33140000101"
