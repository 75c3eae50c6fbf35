"""Experts certify and moderate their topics' threads; readers report; complex threads become
secure-messaging requests for their authors."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from community import moderation as mod
from community import services
from community.models import ModerationAction, Post, Thread
from contactcenter.exceptions import NotAllowed, NotFound
from contactcenter.models import Case
from tests.conftest import make_user


def _anon():
    return AnonymousUser()


@pytest.fixture
def answer(thread, citizen2):
    return services.post_reply(
        citizen2, thread, body="Elle se déclare en pension versée.", pseudonym="Merle"
    )


def test_expert_of_the_topic_certifies_and_the_badge_is_public(client_as, agent_a, answer):
    response = client_as(agent_a).post(
        reverse("community:moderate_post", args=[answer.pk]), {"action": "certify"}
    )
    assert response.status_code == 302
    answer.refresh_from_db()
    assert answer.certified_by == agent_a and answer.is_certified
    html = Client().get(reverse("community:thread", args=[answer.thread_id])).content.decode()
    assert "Réponse certifiée" in html
    assert ModerationAction.objects.filter(action="certify", post=answer, actor=agent_a).exists()


def test_certified_answer_is_pinned_under_the_question(thread, citizen2, agent_a, answer):
    later = services.post_reply(agent_a, thread, body="Case 6GI ou 6GU selon votre situation.")
    assert [p.pk for p in services.visible_posts(_anon(), thread)][1] == answer.pk
    mod.certify(agent_a, later)
    posts = services.visible_posts(_anon(), thread)
    assert [p.pk for p in posts][:2] == [thread.posts.get(is_question=True).pk, later.pk]


def test_agent_of_another_service_cannot_certify(client_as, agent_b, answer):
    response = client_as(agent_b).post(
        reverse("community:moderate_post", args=[answer.pk]), {"action": "certify"}
    )
    assert response.status_code == 403
    answer.refresh_from_db()
    assert not answer.is_certified


def test_citizen_cannot_moderate(client_as, citizen2, answer):
    response = client_as(citizen2).post(
        reverse("community:moderate_post", args=[answer.pk]), {"action": "hide"}
    )
    assert response.status_code == 403


def test_hide_needs_a_reason_and_hides_from_readers(agent_a, answer):
    with pytest.raises(Exception, match="motif"):
        mod.hide(agent_a, answer, "")
    mod.hide(agent_a, answer, "Hors sujet")
    assert answer not in services.visible_posts(_anon(), answer.thread)
    with pytest.raises(NotFound):
        mod.get_post(_anon(), answer.pk)
    mod.publish(agent_a, answer)
    assert answer in services.visible_posts(_anon(), answer.thread)
    actions = list(ModerationAction.objects.values_list("action", flat=True))
    assert sorted(actions) == ["hide", "restore"]


def test_mask_replaces_personal_data_in_a_published_post(agent_a, thread, citizen2):
    post = Post.objects.create(thread=thread, author=citizen2, body="Appelle-moi au 0612345678")
    mod.mask(agent_a, post)
    post.refresh_from_db()
    assert post.body == "Appelle-moi au [téléphone masqué]" and post.is_masked


def test_pending_question_is_approved_by_an_expert(agent_a, member, topic_a):
    pending = services.post_question(
        member.user,
        topic=topic_a,
        title="Question avec un téléphone dedans",
        body="Mon numéro est le 06 12 34 56 78, rappelez-moi.",
        to_moderation=True,
    )
    post = pending.posts.get()
    assert post in mod.moderation_queue(agent_a)
    mod.publish(agent_a, post)
    pending.refresh_from_db()
    assert pending.is_published


def test_lock_stops_replies(agent_a, citizen2, thread):
    mod.set_locked(agent_a, thread, True)
    with pytest.raises(Exception, match="verrouillé"):
        services.post_reply(citizen2, thread, body="Une réponse de plus.", pseudonym="Merle")


def test_send_to_channel_opens_a_case_for_the_author_once(client_as, agent_a, thread, citizen):
    client = client_as(agent_a)
    url = reverse("community:moderate_thread", args=[thread.pk])
    assert client.post(url, {"action": "to_channel"}).status_code == 302
    assert client.post(url, {"action": "to_channel"}).status_code == 302
    case = Case.objects.get()
    assert case.citizen == citizen and case.channel == "web" and case.topic == thread.topic
    first = case.events.get()
    assert thread.title in first.body and "Lilas75" in first.body
    assert first.payload["forum_thread"] == thread.pk
    thread.refresh_from_db()
    assert thread.case == case
    notice = thread.posts.filter(author=agent_a).get()
    assert "nécessite l'examen de votre dossier" in notice.body


def test_agent_of_another_service_cannot_send_to_channel(agent_b, thread):
    with pytest.raises(NotAllowed):
        mod.send_to_channel(agent_b, thread)
    assert not Case.objects.exists()


def test_reports_once_per_reader_and_enough_hide_until_review(
    settings, client_as, citizen, citizen2, answer, agent_a
):
    settings.COMMUNITY_REPORTS_TO_HIDE = 2
    url = reverse("community:report", args=[answer.pk])
    client = client_as(citizen)
    assert client.post(url, {"reason": "Insultant"}).status_code == 302
    assert client.post(url, {"reason": "Insultant"}).status_code == 302
    assert answer.reports.count() == 1
    answer.refresh_from_db()
    assert answer.status == Post.Status.PUBLISHED
    third = make_user("troisieme@example.fr", "citizen")
    mod.report(third, answer, "Spam")
    answer.refresh_from_db()
    assert answer.status == Post.Status.PENDING
    assert answer in mod.moderation_queue(agent_a)


def test_anonymous_cannot_report(answer):
    response = Client().post(reverse("community:report", args=[answer.pk]), {"reason": "x"})
    assert response.status_code == 302 and "/connexion/" in response["Location"]


def test_moderation_page_lists_only_the_agents_topics(client_as, agent_a, agent_b, answer):
    Post.objects.filter(pk=answer.pk).update(status=Post.Status.PENDING)
    assert "Merle" in client_as(agent_a).get(reverse("community:moderation")).content.decode()
    assert "Merle" not in client_as(agent_b).get(reverse("community:moderation")).content.decode()


def test_pending_thread_readable_by_expert_not_by_other_staff(client_as, agent_a, agent_b, thread):
    Thread.objects.filter(pk=thread.pk).update(is_published=False)
    url = reverse("community:thread", args=[thread.pk])
    assert client_as(agent_a).get(url).status_code == 200
    assert client_as(agent_b).get(url).status_code == 404


def test_author_accepts_the_best_answer(client_as, citizen, citizen2, answer):
    url = reverse("community:accept", args=[answer.pk])
    assert client_as(citizen2).post(url).status_code == 403  # not the question's author
    assert client_as(citizen).post(url).status_code == 302
    answer.refresh_from_db()
    answer.thread.refresh_from_db()
    assert answer.is_accepted and answer.thread.is_resolved
    html = Client().get(reverse("community:thread", args=[answer.thread_id])).content.decode()
    assert "Meilleure réponse" in html


def test_questions_without_expert_answer_after_72_hours_are_flagged(
    client_as, agent_a, agent_b, thread, answer
):
    from datetime import timedelta

    from django.utils import timezone

    later = timezone.now() + timedelta(hours=73)
    assert list(services.unanswered_by_experts(agent_a, later)) == [thread]
    assert list(services.unanswered_by_experts(agent_a)) == []  # not 72 hours yet
    assert list(services.unanswered_by_experts(agent_b, later)) == []  # another service's
    services.post_reply(agent_a, thread, body="La pension se déclare case 6GU.")
    assert list(services.unanswered_by_experts(agent_a, later)) == []
