"""The forum's public read-only API (pseudonyms only, keyset pages) and its indicators."""

import datetime as dt

import pytest
from django.utils import timezone

from community import moderation, services
from community.indicators import figures, forum_kpis
from community.models import Member, Post, Thread


def _publish(thread: Thread) -> Thread:
    Thread.objects.filter(pk=thread.pk).update(is_published=True)
    thread.posts.update(status=Post.Status.PUBLISHED)
    thread.refresh_from_db()
    return thread


def _answer(thread: Thread, author, *, hours: float, certified_by=None, status="published"):
    post = Post.objects.create(
        thread=thread, author=author, body="Voici la réponse à votre question.", status=status
    )
    at = thread.created_at + dt.timedelta(hours=hours)
    update = {"created_at": at}
    if certified_by is not None:
        update |= {"certified_by": certified_by, "certified_at": at}
    Post.objects.filter(pk=post.pk).update(**update)
    return post


@pytest.mark.django_db
def test_api_lists_published_threads_with_pseudonyms_only(client, thread, agent_a, citizen):
    _publish(thread)
    _answer(thread, agent_a, hours=2, certified_by=agent_a)
    _answer(thread, agent_a, hours=3, status="hidden")
    Thread.objects.create(topic=thread.topic, title="Brouillon", author=citizen)  # unpublished
    response = client.get("/api/forum/threads/")
    assert response.status_code == 200
    body = response.json()
    assert [t["title"] for t in body["results"]] == [thread.title]
    item = body["results"][0]
    assert item["author"] == "Lilas75"
    assert (item["answers"], item["certified"], item["topic"]) == (1, True, thread.topic.slug)
    posts = client.get(f"/api/forum/threads/{thread.pk}/posts/").json()["results"]
    assert [p["author"] for p in posts] == ["Lilas75", f"Conseiller — {thread.topic.service.name}"]
    assert [p["certified"] for p in posts] == [False, True]
    text = response.content.decode() + str(posts)
    for private in (citizen.first_name, citizen.last_name, citizen.email, agent_a.last_name):
        assert private not in text
    assert "user" not in item and "author_id" not in item


@pytest.mark.django_db
def test_api_filters_refuse_unknown_values_and_parameters(client, thread):
    _publish(thread)
    assert client.get("/api/forum/threads/?topic=inconnu").status_code == 400
    assert client.get("/api/forum/threads/?resolved=peut-etre").status_code == 400
    assert client.get("/api/forum/threads/?language=de").status_code == 400
    assert client.get("/api/forum/threads/?auteur=1").status_code == 400
    assert client.get("/api/forum/threads/?resolved=true").json()["results"] == []
    slug = thread.topic.slug
    assert len(client.get(f"/api/forum/threads/?topic={slug}&language=fr").json()["results"]) == 1
    assert client.get("/api/forum/threads/999999/").status_code == 404
    assert client.get("/api/forum/threads/?cursor=abc").status_code == 404


@pytest.mark.django_db
def test_api_pages_by_keyset_cursor(client, member, topic_a, django_assert_max_num_queries):
    for index in range(30):
        Thread.objects.create(
            topic=topic_a, title=f"Question {index}", author=member.user, is_published=True
        )
    with django_assert_max_num_queries(3):
        first = client.get("/api/forum/threads/").json()
    assert len(first["results"]) == 25 and first["next"] and "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    titles = [t["title"] for t in first["results"] + second["results"]]
    assert len(titles) == len(set(titles)) == 30


@pytest.mark.django_db
def test_api_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()
    assert "/api/forum/threads/" in schema["paths"]
    assert "/api/forum/threads/{id}/posts/" in schema["paths"]


@pytest.mark.django_db
def test_indicators_per_topic_in_one_query(
    thread, member, agent_a, topic_a, django_assert_num_queries
):
    _publish(thread)
    _answer(thread, member.user, hours=1)
    _answer(thread, agent_a, hours=5, certified_by=agent_a)
    late = _publish(
        services.post_question(
            member.user, topic=topic_a, title="Autre question", body="Une question de plus."
        )
    )
    _answer(late, agent_a, hours=80, certified_by=agent_a)
    unanswered = _publish(
        services.post_question(
            member.user, topic=topic_a, title="Sans réponse", body="Toujours personne ?"
        )
    )
    moderation.send_to_channel(agent_a, unanswered)  # the expert's redirect message answers it
    start, end = timezone.now() - dt.timedelta(days=7), timezone.now() + dt.timedelta(days=1)
    with django_assert_num_queries(1):
        result = figures(start, end)
    item = result[topic_a.pk]
    assert (item.questions, item.answered, item.certified, item.certified_in_time) == (3, 3, 2, 1)
    assert item.redirected == 1
    assert item.median(item.to_answer) == pytest.approx(3600)  # of ~0 s, 1 h and 80 h
    assert item.median(item.to_certified) == pytest.approx((5 * 3600 + 80 * 3600) / 2)
    section = forum_kpis(start, end, service_ids=[topic_a.service_id])
    assert section is not None
    row = section["tables"][0]["rows"][0]
    assert row[:5] == [topic_a.title, 3, 1, 2 / 3, 1 / 3] and row[7] == 1
    assert forum_kpis(start, end, service_ids=[-1])["tables"][0]["rows"] == []
    assert forum_kpis(start, end, channel="chat") is None
    assert Member.objects.count() == 1
