"""Satisfaction per contact: a survey offered after a closed contact, in the space and by a
signed one-use link valid 7 days (400 tampered, 410 expired or used), answers checked and
recorded once, and the indicators computed from them."""

import time
from unittest import mock

import pytest
from django.urls import reverse

from contactcenter import surveys
from contactcenter.models import Case, Event, Satisfaction, SurveyInvitation
from contactcenter.services import add_event, change_status, rate_case
from messaging.models import Notification

pytestmark = pytest.mark.django_db


def answered(case, agent, capture):
    with capture(execute=True):
        change_status(case, Case.Status.ANSWERED, actor=agent)
    return SurveyInvitation.objects.get(case=case)


def link_path(invitation):
    return reverse("survey_link", args=[surveys.make_token(invitation)])


def test_ended_contact_offers_a_survey_with_a_content_free_alert(
    case_a, agent_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        event = add_event(
            case_a,
            Event.Type.CALLBACK,
            actor=agent_a,
            channel="phone",
            payload={"outcome": "reached"},
        )
    invitation = SurveyInvitation.objects.get(event=event)
    assert invitation.agent == agent_a and invitation.channel == "phone"
    row = Notification.objects.get(kind="satisfaction_survey", case=case_a)
    token = row.text.split("/avis/lien/")[1].split("/")[0]
    assert surveys.invitation_from_token(token) == invitation
    assert case_a.reference in row.text and case_a.service.name in row.text
    assert "déménagé" not in row.text and "Martin" not in row.text


def test_written_answer_offers_a_survey_in_the_space_only(
    case_a, agent_a, django_capture_on_commit_callbacks
):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    assert invitation.agent == agent_a and invitation.channel == "web"
    assert not Notification.objects.filter(kind="satisfaction_survey").exists()


def test_contact_without_agent_or_not_closing_offers_nothing(case_a, agent_a):
    add_event(case_a, Event.Type.CHAT, payload={"phase": "started"})
    add_event(case_a, Event.Type.CHAT, payload={"phase": "transcript"})  # no agent: chatbot
    assert not SurveyInvitation.objects.exists()
    add_event(case_a, Event.Type.CALLBACK, actor=agent_a, payload={"outcome": "reached"})
    add_event(case_a, Event.Type.CALLBACK, actor=agent_a, payload={"outcome": "reached"})
    # The second contact within the cooldown does not offer a second survey.
    assert SurveyInvitation.objects.get().event.type == Event.Type.CALLBACK


def test_link_works_once_without_login(client, case_a, agent_a, django_capture_on_commit_callbacks):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    path = link_path(invitation)
    page = client.get(path)
    assert page.status_code == 200 and "Votre demande est-elle résolue" in page.text
    assert "déménagé" not in page.text  # nothing of the exchange without login
    response = client.post(path, {"score": "4", "resolved": "oui", "comment": "Rapide"})
    assert response.status_code == 200 and "Merci" in response.text
    rating = Satisfaction.objects.get(event=invitation.event)
    assert (rating.score, rating.resolved, rating.comment, rating.agent) == (
        4,
        True,
        "Rapide",
        agent_a,
    )
    again = client.post(path, {"score": "1", "resolved": "non"})
    assert again.status_code == 410 and "déjà répondu" in again.text
    assert client.get(path).status_code == 410
    assert Satisfaction.objects.get(event=invitation.event).score == 4


def test_expired_link_is_gone(client, case_a, agent_a, django_capture_on_commit_callbacks):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    path = link_path(invitation)
    later = time.time() + surveys.LINK_MAX_AGE.total_seconds() + 60
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.post(path, {"score": "5"})
    assert response.status_code == 410 and "expiré" in response.text
    # Expired in the database too (a link signed later cannot outlive the invitation).
    SurveyInvitation.objects.filter(pk=invitation.pk).update(expires_at=invitation.created_at)
    assert client.get(path).status_code == 410
    assert not Satisfaction.objects.exists()


def test_tampered_link_is_refused(client, case_a, agent_a, django_capture_on_commit_callbacks):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    token = surveys.make_token(invitation)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for bad in (forged, "nimportequoi", token.replace(":", ".", 1)):
        response = client.post(reverse("survey_link", args=[bad]), {"score": "5"})
        assert response.status_code == 400 and "pas valide" in response.text
    assert not Satisfaction.objects.exists()


@pytest.mark.parametrize("score", ["0", "6", "abc", ""])
def test_rating_is_validated(client, case_a, agent_a, django_capture_on_commit_callbacks, score):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    response = client.post(link_path(invitation), {"score": score, "resolved": "oui"})
    assert response.status_code == 400 and "entre 1 et 5" in response.text
    assert (
        client.post(link_path(invitation), {"score": "3", "resolved": "peut-être"}).status_code
        == 400
    )
    assert not Satisfaction.objects.exists()
    invitation.refresh_from_db()
    assert invitation.used_at is None  # a refused answer does not use the link


def test_space_lists_pending_surveys_and_submit_is_idempotent(
    client_as, case_a, citizen, citizen2, agent_a, django_capture_on_commit_callbacks
):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    client = client_as(citizen)
    space = client.get(reverse("messaging:space"))
    assert reverse("survey_answer", args=[invitation.pk]) in space.text
    url = reverse("survey_answer", args=[invitation.pk])
    assert client_as(citizen2).get(url).status_code == 404  # not theirs
    data = {"score": "2", "resolved": "non", "idempotency_key": "k" * 32}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data).status_code == 302  # replay: same answer, nothing new
    assert Satisfaction.objects.filter(event=invitation.event).count() == 1
    assert surveys.answer(invitation, 5).created is False
    assert Satisfaction.objects.get(event=invitation.event).resolved is False
    assert (
        reverse("survey_answer", args=[invitation.pk])
        not in client.get(reverse("messaging:space")).text
    )


def test_case_rating_and_contact_ratings_coexist(
    case_a, citizen, agent_a, django_capture_on_commit_callbacks
):
    invitation = answered(case_a, agent_a, django_capture_on_commit_callbacks)
    surveys.answer(invitation, 3, resolved="oui")
    rate_case(case_a, citizen, 5)
    rate_case(case_a, citizen, 4)  # the case rating is updated, not duplicated
    assert Satisfaction.objects.filter(case=case_a).count() == 2
    assert Satisfaction.objects.get(case=case_a, event=None).score == 4


def test_indicators_per_channel_and_service_with_declared_resolution(
    case_a, case_b, citizen, citizen2, agent_a, agent_b
):
    from django.utils import timezone

    from console import kpis

    answers = [
        (case_a, agent_a, "phone", 5, "oui"),
        (case_a, agent_a, "chat", 3, "non"),
        (case_a, agent_a, "phone", 4, ""),  # "résolue ?" not answered
        (case_b, agent_b, "visio", 2, "non"),
    ]
    for i, (case, agent, channel, score, resolved) in enumerate(answers):
        event = add_event(case, Event.Type.NOTE, actor=agent, internal=True, channel=channel)
        invitation = SurveyInvitation.objects.create(
            event=event,
            case=case,
            citizen=case.citizen,
            channel=channel,
            service=case.service,
            agent=agent,
            expires_at=timezone.now() + surveys.LINK_MAX_AGE,
        )
        surveys.answer(invitation, score, f"avis {i}", resolved)
    today = timezone.localdate()
    report = kpis.build_report(kpis.KpiRange(today, today), kpis.ALL)
    phone, chat = report.by_channel["phone"], report.by_channel["chat"]
    assert (phone.sat_count, phone.sat_avg) == (2, 4.5)
    assert (phone.declared_fcr_asked, phone.declared_fcr_rate) == (1, 1.0)
    assert chat.declared_fcr_rate == 0.0
    service_a = report.by_service[case_a.service_id]
    assert (service_a.sat_count, service_a.sat_avg) == (3, 4.0)
    assert service_a.declared_fcr_rate == 0.5
    assert report.by_service[case_b.service_id].declared_fcr_rate == 0.0
    assert report.overall.declared_fcr_asked == 3
    assert report.overall.declared_fcr_rate == pytest.approx(1 / 3)
