"""Public reading, search, suggestions and posting under a pseudonym, with the data checks."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from community import services
from community.models import Member, Post, Thread
from contactcenter.exceptions import NotAllowed


def test_public_reading_without_login_shows_pseudonym_never_the_name(thread, citizen):
    client = Client()
    page = client.get(reverse("community:index"))
    assert page.status_code == 200
    assert thread.title in page.content.decode()
    detail = client.get(reverse("community:thread", args=[thread.pk]))
    html = detail.content.decode()
    assert "Lilas75" in html
    for secret in (citizen.first_name, citizen.last_name, citizen.email):
        assert secret not in html
    data = client.get(reverse("community:thread_json", args=[thread.pk])).json()
    assert data["posts"][0]["author"] == "Lilas75"
    assert citizen.last_name not in str(data) and citizen.email not in str(data)
    thread.refresh_from_db()
    assert thread.views == 1  # the JSON is not a view


def test_threads_by_topic_resolved_and_language_filters(thread, topic_a, topic_b, member):
    english = services.post_question(
        member.user,
        topic=topic_b,
        title="How do I get a health insurance card?",
        body="I just arrived in France for my studies, what should I do?",
        language="en",
    )
    Thread.objects.filter(pk=english.pk).update(is_resolved=True)
    client = Client()
    by_topic = client.get(reverse("community:index"), {"theme": "sante"}).content.decode()
    assert english.title in by_topic and thread.title not in by_topic
    in_english = client.get(reverse("community:index"), {"langue": "en"}).content.decode()
    assert english.title in in_english and thread.title not in in_english
    unresolved = client.get(reverse("community:index"), {"resolu": "0"}).content.decode()
    assert thread.title in unresolved and english.title not in unresolved


def test_search_ranks_title_words_first(thread, member, topic_a):
    other = services.post_question(
        member.user,
        topic=topic_a,
        title="Frais de garde d'enfant et crédit d'impôt",
        body="Peut-on déduire une pension versée à la crèche ? Merci.",
    )
    found = services.search_threads("pension alimentaire")
    assert found[:2] == [thread, other]
    page = Client().get(reverse("community:index"), {"q": "alimentaire"}).content.decode()
    assert thread.title in page and other.title not in page


def test_pending_thread_is_not_public(member, topic_a):
    hidden = services.post_question(
        member.user,
        topic=topic_a,
        title="Ma situation avec un numéro fiscal",
        body="Mon numéro fiscal est 1234567890" + f"{1234567890 % 511:03d}" + ", que faire ?",
        to_moderation=True,
    )
    assert not hidden.is_published
    post = hidden.posts.get()
    assert post.status == Post.Status.PENDING and "[numéro fiscal masqué]" in post.body
    assert "1234567890" not in post.body
    assert Client().get(reverse("community:thread", args=[hidden.pk])).status_code == 404
    assert hidden not in services.public_threads()


def _ask(client, **fields):
    data = {
        "topic": "impots",
        "title": "Comment déclarer mes frais réels ?",
        "body": "Je fais 40 km par jour pour aller travailler, comment faire ?",
        "language": "fr",
        "idempotency_key": str(uuid.uuid4()),
        **fields,
    }
    return client.post(reverse("community:ask"), data)


def test_first_question_chooses_a_pseudonym_once(client_as, citizen, topic_a):
    client = client_as(citizen)
    refused = _ask(client, pseudonym="CamilleM")
    assert refused.status_code == 400
    assert "ne doit pas contenir votre nom" in refused.content.decode()
    response = _ask(client, pseudonym="Hirondelle")
    assert response.status_code == 302
    assert Member.objects.get(user=citizen).pseudonym == "Hirondelle"
    # Chosen once: the field is gone, a new pseudonym sent is ignored.
    form = client.get(reverse("community:ask"), {"topic": "impots", "title": "Une autre question"})
    assert 'name="pseudonym"' not in form.content.decode()
    _ask(client, title="Une deuxième question sur les frais", pseudonym="Autre")
    assert Member.objects.get(user=citizen).pseudonym == "Hirondelle"


def test_pseudonym_taken_is_refused(client_as, citizen, citizen2, topic_a):
    Member.objects.create(user=citizen2, pseudonym="Hirondelle")
    response = _ask(client_as(citizen), pseudonym="hirondelle")
    assert response.status_code == 400
    assert "déjà pris" in response.content.decode()


def test_similar_threads_and_articles_are_proposed_before_posting(
    client_as, citizen, thread, monkeypatch
):
    seen = {}

    def fake_search(query, *, topic=None, audience="public", limit=3):
        seen.update(query=query, topic=topic, audience=audience)
        return []

    monkeypatch.setattr(services, "search_articles", fake_search)
    page = client_as(citizen).get(
        reverse("community:ask"), {"topic": "impots", "title": "pension alimentaire étudiant"}
    )
    html = page.content.decode()
    assert "Votre question a peut-être déjà une réponse" in html
    assert thread.title in html
    assert seen == {
        "query": "pension alimentaire étudiant",
        "topic": thread.topic,
        "audience": "public",
    }


def test_phone_number_is_refused_with_a_precise_message(client_as, citizen, member):
    response = _ask(client_as(citizen), body="Rappelez-moi au 06 12 34 56 78 s'il vous plaît.")
    assert response.status_code == 400
    html = response.content.decode()
    assert "un numéro de téléphone (« 06 12 34 56 78 »)" in html
    assert "Soumettre à la modération" in html
    assert not Thread.objects.exists()


def test_submitting_to_moderation_masks_the_data(client_as, citizen, member):
    response = _ask(
        client_as(citizen),
        body="Rappelez-moi au 06 12 34 56 78 s'il vous plaît.",
        moderation="1",
    )
    assert response.status_code == 302
    post = Post.objects.get()
    assert post.status == Post.Status.PENDING and post.is_masked
    assert "06 12" not in post.body and "[téléphone masqué]" in post.body


def test_health_question_is_redirected_to_secure_messaging(client_as, citizen, member):
    response = _ask(client_as(citizen), body="J'ai un cancer, ai-je droit à une exonération ?")
    assert response.status_code == 400
    html = response.content.decode()
    assert "messagerie sécurisée" in html
    assert reverse("messaging:new_request") + "?topic=impots" in html
    assert not Thread.objects.exists()


def test_double_submit_creates_one_thread(client_as, citizen, member):
    client = client_as(citizen)
    key = str(uuid.uuid4())
    first = _ask(client, idempotency_key=key)
    second = _ask(client, idempotency_key=key)
    assert first.status_code == second.status_code == 302
    assert second["Idempotent-Replayed"] == "true"
    assert Thread.objects.count() == 1


def test_rate_limit_per_author(settings, citizen, member, topic_a, thread):
    settings.COMMUNITY_POSTS_PER_HOUR = 2
    services.post_reply(citizen, thread, body="Une précision sur ma question.")
    with pytest.raises(NotAllowed):
        services.post_reply(citizen, thread, body="Encore une précision.")


def test_staff_cannot_ask_and_anonymous_is_sent_to_login(client_as, agent_a, topic_a):
    assert client_as(agent_a).get(reverse("community:ask")).status_code == 403
    response = Client().get(reverse("community:ask"))
    assert response.status_code == 302 and "/connexion/" in response["Location"]


def test_reply_needs_csrf(citizen, thread):
    client = Client(enforce_csrf_checks=True)
    client.force_login(citizen)
    response = client.post(reverse("community:reply", args=[thread.pk]), {"body": "Bonjour à tous"})
    assert response.status_code == 403


def test_reply_to_a_locked_thread_is_refused(client_as, citizen2, thread):
    Thread.objects.filter(pk=thread.pk).update(is_locked=True)
    response = client_as(citizen2).post(
        reverse("community:reply", args=[thread.pk]),
        {"body": "Voici ma réponse à ta question.", "pseudonym": "Merle"},
    )
    assert response.status_code == 409
