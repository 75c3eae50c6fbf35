"""The knowledge app's dashboard sections (knowledge/kpi_providers.py) on a hand-built data set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from knowledge import kpi_providers
from knowledge.models import Article, Conversation, DeflectionEvent, Turn

from .conftest import D1, TODAY, at

pytestmark = pytest.mark.django_db

URL = "/supervision/tableau-de-bord/"


@pytest.fixture
def chatbot_data(citizen, citizen2, topic_a, frozen_now):
    article = Article.objects.create(
        slug="adresse",
        topic=topic_a,
        title="Changer d'adresse",
        body="…",
        status=Article.Status.PUBLISHED,
    )
    first = Conversation.objects.create(user=citizen, started_at=at(D1, 9))
    second = Conversation.objects.create(
        user=citizen2, started_at=at(D1, 10), handoff_offered=True, handed_off_at=at(D1, 10, 5)
    )
    turns = [
        (first, "Comment changer d'adresse ?", Turn.Outcome.ANSWERED, article, 1),
        (first, "Et pour ma carte grise ?", Turn.Outcome.ANSWERED, article, -1),
        (second, "Où est mon remboursement ?", Turn.Outcome.DONT_KNOW, None, None),
        (second, "où est mon remboursement", Turn.Outcome.DONT_KNOW, None, None),
        (second, "Bonjour", Turn.Outcome.SMALLTALK, None, None),
    ]
    for seq, (conversation, question, outcome, art, rating) in enumerate(turns, start=1):
        Turn.objects.create(
            conversation=conversation,
            seq=seq,
            question=question,
            outcome=outcome,
            article=art,
            rating=rating,
            created_at=at(D1, 10, seq),
        )
    DeflectionEvent.objects.create(
        kind="shown", user=citizen, article=article, query="adresse", created_at=at(D1, 11)
    )
    DeflectionEvent.objects.create(
        kind="sufficient", user=citizen, article=article, query="adresse", created_at=at(D1, 11, 1)
    )
    return article


def test_chatbot_section_adapts_knowledge_analytics(chatbot_data, supervisor):
    section = kpi_providers.chatbot_kpis(
        at(D1, 0), at(TODAY, 0), user=supervisor, service_ids=None, topic_id=None, channel=None
    )
    metrics = {m["key"]: m["value"] for m in section["metrics"]}
    assert metrics["conversations"] == 2
    assert metrics["recognition_rate"] == pytest.approx(2 / 4)
    assert metrics["dont_know_rate"] == pytest.approx(2 / 4)
    assert metrics["handoff_rate"] == pytest.approx(1 / 2)
    assert metrics["deflection_rate"] == pytest.approx(1.0)
    tables = {table["key"]: table["rows"] for table in section["tables"]}
    assert [(row[0], row[1]) for row in tables["questions"]] == [("où est mon remboursement", 2)]
    assert tables["articles"] == [["Changer d'adresse", 1, 1, 0.5]]
    assert tables["redirections"] == []
    assert section["volumes"] == {"chatbot": 2}


def test_chatbot_section_is_hidden_for_another_channel(chatbot_data, supervisor):
    assert (
        kpi_providers.chatbot_kpis(
            at(D1, 0), at(TODAY, 0), user=supervisor, service_ids=None, topic_id=None, channel="web"
        )
        is None
    )


def test_knowledge_section_lists_articles_due_for_review_and_expired(
    supervisor, topic_a, topic_b, service_b, frozen_now
):
    Article.objects.create(
        slug="a",
        topic=topic_a,
        title="À revoir",
        body="…",
        status="published",
        review_date=TODAY - timedelta(days=3),
    )
    Article.objects.create(
        slug="b",
        topic=topic_a,
        title="Expiré",
        body="…",
        status="archived",
        expiry_date=TODAY - timedelta(days=1),
    )
    Article.objects.create(
        slug="c",
        topic=topic_a,
        title="À jour",
        body="…",
        status="published",
        review_date=TODAY + timedelta(days=30),
    )
    Article.objects.create(
        slug="d",
        topic=topic_b,
        title="Autre service",
        body="…",
        status="published",
        review_date=TODAY - timedelta(days=3),
        owner=service_b,
    )
    section = kpi_providers.knowledge_base_kpis(
        at(D1, 0), at(TODAY, 0), user=supervisor, service_ids=None, topic_id=None, channel=None
    )
    metrics = {m["key"]: m["value"] for m in section["metrics"]}
    assert (metrics["due"], metrics["expired"]) == (1, 1)
    assert [(row[0], row[3]) for row in section["tables"][0]["rows"]] == [
        ("À revoir", "À revoir"),
        ("Expiré", "Expiré"),
    ]


def test_dashboard_shows_the_knowledge_sections(settings, client_as, supervisor, chatbot_data):
    settings.GUICHET_KPI_PROVIDERS = {
        "chatbot": "knowledge.kpi_providers.chatbot_kpis",
        "knowledge": "knowledge.kpi_providers.knowledge_base_kpis",
    }
    response = client_as(supervisor).get(URL, {"periode": "7j"})
    content = response.content.decode()
    assert "Assistant virtuel et réponses proposées" in content
    assert "où est mon remboursement" in content
    assert "Base de connaissances" in content
    report = response.context["report"]
    assert report.by_channel["chatbot"].contacts == 2
    assert [code for code, _label, _figures in report.channels] == ["chatbot"]
