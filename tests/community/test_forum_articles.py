"""A thread becomes a knowledge-base draft in one click; the 72-hour flag reaches the topic's
experts and supervisors on the moderation page; the indicators count views, articles and the
requests avoided."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community import moderation as mod
from community import services
from community.indicators import figures, forum_kpis
from community.models import ModerationAction, Post, Thread
from contactcenter.exceptions import NotAllowed
from contactcenter.models import Case
from knowledge.models import Article


@pytest.fixture
def answered(thread, citizen2, agent_a):
    Thread.objects.filter(pk=thread.pk).update(is_published=True)
    thread.posts.update(status=Post.Status.PUBLISHED)
    services.post_reply(citizen2, thread, body="Je crois que c'est en 6GU.", pseudonym="Merle")
    expert = services.post_reply(agent_a, thread, body="Case 6GU, avec le montant versé.")
    mod.certify(agent_a, expert, certified=True)
    thread.refresh_from_db()
    return thread


def test_a_thread_becomes_a_draft_article_once(client_as, agent_a, answered):
    client = client_as(agent_a)
    page = client.get(reverse("community:thread", args=[answered.pk])).content.decode()
    assert 'value="to_article"' in page
    url = reverse("community:moderate_thread", args=[answered.pk])
    response = client.post(url, {"action": "to_article"}, follow=True)
    assert "Brouillon d&#x27;article" in response.content.decode()
    client.post(url, {"action": "to_article"})
    article = Article.objects.get()
    assert article.status == Article.Status.DRAFT
    assert (article.topic, article.owner) == (answered.topic, answered.topic.service)
    assert article.review_date == timezone.localdate()  # in the knowledge team's review list
    assert article.title == answered.title
    # The question first, the certified answer before the others, no pseudonym or name.
    body = article.body
    assert body.index("où la déclarer") < body.index("Case 6GU") < body.index("Je crois")
    assert "**Réponse certifiée**" in body
    assert "Lilas75" not in body and "Merle" not in body and "Martin" not in body
    answered.refresh_from_db()
    assert answered.article == article
    assert ModerationAction.objects.filter(action="to_article", thread=answered).count() == 1
    page = client.get(reverse("community:thread", args=[answered.pk])).content.decode()
    assert 'value="to_article"' not in page


def test_only_the_topics_experts_make_an_article(agent_b, citizen, answered):
    with pytest.raises(NotAllowed):
        mod.thread_to_article(agent_b, answered)
    with pytest.raises(NotAllowed):
        mod.thread_to_article(citizen, answered)
    assert not Article.objects.exists()


def test_the_72_hour_flag_is_shown_to_experts_and_supervisors(
    client_as, agent_a, agent_b, supervisor, thread
):
    Thread.objects.filter(pk=thread.pk).update(
        is_published=True, created_at=timezone.now() - dt.timedelta(hours=73)
    )
    for user, shown in ((agent_a, True), (supervisor, True), (agent_b, False)):
        html = client_as(user).get(reverse("community:moderation")).content.decode()
        assert (thread.title in html) is shown, user
    services.post_reply(agent_a, thread, body="Case 6GU, avec le montant versé.")
    html = client_as(supervisor).get(reverse("community:moderation")).content.decode()
    assert thread.title not in html
    assert Client().get(reverse("community:moderation")).status_code == 302


def test_indicators_views_articles_and_requests_avoided(
    agent_a, answered, citizen, topic_a, django_assert_num_queries
):
    start, end = timezone.now() - dt.timedelta(days=7), timezone.now() + dt.timedelta(days=1)
    for _ in range(3):
        Client().get(reverse("community:thread", args=[answered.pk]))
    mod.thread_to_article(agent_a, answered)
    # Requests on the topic: 3 in the previous period, 1 during this one.
    for reference, created in (
        ("OLD-9", start - dt.timedelta(days=2)),
        ("OLD-10", start - dt.timedelta(days=3)),
        ("OLD-12", start - dt.timedelta(days=5)),
        ("NEW-1", timezone.now()),
    ):
        case = Case.objects.create(
            reference=reference,
            citizen=citizen,
            topic=topic_a,
            service=topic_a.service,
            kind="question",
            channel="web",
            subject="Une demande",
        )
        Case.objects.filter(pk=case.pk).update(created_at=created)
    with django_assert_num_queries(1):
        item = figures(start, end)[topic_a.pk]
    assert (item.views, item.articles) == (3, 1)
    with django_assert_num_queries(2):
        section = forum_kpis(start, end, service_ids=[topic_a.service_id])
    assert section is not None
    metrics = {m["key"]: m["value"] for m in section["metrics"]}
    assert (metrics["views"], metrics["articles"], metrics["avoided"]) == (3, 1, 2)
    row = section["tables"][0]["rows"][0]
    assert row[8:] == [3, 1, 3, 1, 2]
