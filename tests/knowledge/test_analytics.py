import datetime as dt
import json

import pytest
from django.utils import timezone

from knowledge import analytics, services
from knowledge.models import Conversation, DeflectionEvent


def ask(client, message, conversation=None):
    body = {"message": message, **({"conversation": conversation} if conversation else {})}
    return client.post(
        "/api/chatbot/messages", json.dumps(body), content_type="application/json"
    ).json()


@pytest.fixture
def period():
    now = timezone.now()
    return now - dt.timedelta(hours=1), now + dt.timedelta(hours=1)


@pytest.mark.django_db
def test_rates_and_tops_from_real_conversations(citizen, citizen2, client_as, kb, period):
    start, end = period
    a = client_as(citizen)
    first = ask(a, "j'ai perdu ma carte vitale")
    ask(a, "bonjour", first["conversation"])  # small talk is not a question
    ask(a, "recette des crêpes bretonnes", first["conversation"])
    b = client_as(citizen2)
    second = ask(b, "Recette des crêpes bretonnes !")
    ask(b, "mot de passe oublié", second["conversation"])
    a.post(
        f"/api/chatbot/messages/{first['turn']}/rating",
        {"value": -1},
        content_type="application/json",
    )
    a.get(f"/assistant/relais/{first['conversation']}/message/")

    assert analytics.recognition_rate(start, end) == pytest.approx(2 / 4)
    assert analytics.dont_know_rate(start, end) == pytest.approx(2 / 4)
    assert analytics.handoff_rate(start, end) == pytest.approx(1 / 2)
    ratings = analytics.article_ratings(start, end)
    assert ratings == [
        {
            "slug": "carte-vitale-perdue",
            "title": ratings[0]["title"],
            "up": 0,
            "down": 1,
            "total": 1,
            "satisfaction": 0.0,
        }
    ]
    top = analytics.top_unanswered(start, end)
    assert top[0]["count"] == 2  # same question, case and punctuation ignored
    assert "crêpes" in top[0]["question"]
    summary = analytics.summary(start, end)
    assert summary["questions"] == 4 and summary["smalltalk"] == 1
    assert summary["conversations"] == 2


@pytest.mark.django_db
def test_period_bounds_are_respected(citizen, client_as, kb, period):
    start, end = period
    ask(client_as(citizen), "recette des crêpes")
    later = end + dt.timedelta(days=1)
    assert analytics.recognition_rate(end, later) is None
    assert analytics.top_unanswered(end, later) == []
    Conversation.objects.update(started_at=start - dt.timedelta(days=2))
    assert analytics.handoff_rate(start, end) is None


@pytest.mark.django_db
def test_deflection_rate(citizen, citizen2, kb, period):
    start, end = period
    for user in (citizen, citizen2):
        for slug in ("carte-vitale-perdue", "attestation-droits"):
            services.record_deflection(
                user=user, article=slug, query="carte vitale", topic="sante", sufficient=False
            )
    services.record_deflection(
        user=citizen,
        article="carte-vitale-perdue",
        query="carte vitale",
        topic="sante",
        sufficient=True,
    )
    assert analytics.deflection_counts(start, end) == {
        "displays": 2,
        "articles_shown": 4,
        "sufficient": 1,
    }
    assert analytics.deflection_rate(start, end) == pytest.approx(0.5)
    DeflectionEvent.objects.update(created_at=start - dt.timedelta(days=1))
    assert analytics.deflection_rate(start, end) is None


@pytest.mark.django_db
def test_redirected_subjects_are_counted_apart_and_ranked(citizen, client_as, kb, period):
    """A redirection is neither an answer nor a "je ne sais pas": it is counted apart, and the
    subjects asked most are listed (a frequent one may deserve an article)."""
    from knowledge.kpi_providers import chatbot_kpis
    from knowledge.models import Redirection, Turn

    start, end = period
    client = client_as(citizen)
    first = ask(client, "Comment demander l'APL ?")
    ask(client, "l'aide au logement c'est combien", first["conversation"])
    ask(client, "comment enregistrer un PACS ?", first["conversation"])
    ask(client, "j'ai perdu ma carte vitale", first["conversation"])
    assert [t.redirection.slug for t in Turn.objects.filter(outcome="redirected")] == [
        "aides-logement",
        "aides-logement",
        "pacs",
    ]
    summary = analytics.summary(start, end)
    assert summary["redirected"] == 3 and summary["questions"] == 1
    housing = Redirection.objects.get(slug="aides-logement")
    assert analytics.top_redirections(start, end) == [
        {"title": housing.title, "organisation": housing.organisation, "count": 2},
        {
            "title": Redirection.objects.get(slug="pacs").title,
            "organisation": Redirection.objects.get(slug="pacs").organisation,
            "count": 1,
        },
    ]
    table = {t["key"]: t for t in chatbot_kpis(start, end)["tables"]}["redirections"]
    assert table["rows"][0] == [housing.title, housing.organisation, 2]
