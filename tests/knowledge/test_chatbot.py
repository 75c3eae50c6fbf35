import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from contactcenter.models import Case, Event
from knowledge import services
from knowledge.models import Conversation, Turn

API = "/api/chatbot/messages"


def ask(client, message, conversation=None):
    body = {"message": message}
    if conversation:
        body["conversation"] = conversation
    return client.post(API, data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
def test_api_route_is_the_documented_one():
    assert reverse("knowledge:api_chatbot_messages") == API


@pytest.mark.django_db
def test_answer_with_article_title_summary_and_link(citizen_client):
    response = ask(citizen_client, "j'ai perdu ma carte vitale, comment en avoir une nouvelle ?")
    assert response.status_code == 201
    data = response.json()
    assert data["outcome"] == "answered"
    assert data["article"]["slug"] == "carte-vitale-perdue"
    assert data["article"]["url"] == "/faq/articles/carte-vitale-perdue/"
    assert data["article"]["title"]
    assert data["article"]["summary"]
    assert data["can_rate"] is True
    assert data["handoff"] is None
    turn = Turn.objects.get(pk=data["turn"])
    assert turn.conversation.user.email == "camille.martin@example.fr"
    assert turn.conversation.topic.slug == "sante"


@pytest.mark.django_db
@pytest.mark.parametrize("message", ["", "   ", "x" * 1001])
def test_empty_or_too_long_questions_are_refused_with_a_message(citizen_client, message):
    response = ask(citizen_client, message)
    assert response.status_code == 400
    errors = response.json()["errors"]["message"]
    assert errors and ("Écrivez votre question" in errors[0] or "trop longue" in errors[0])
    assert not Turn.objects.exists()


@pytest.mark.django_db
def test_exactly_1000_characters_is_accepted(citizen_client):
    message = ("carte vitale perdue " * 60)[:1000]
    assert ask(citizen_client, message).status_code == 201


@pytest.mark.django_db
def test_anonymous_is_refused_and_csrf_is_enforced(kb, citizen):
    from django.test import Client

    assert ask(Client(), "bonjour").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(citizen)
    assert ask(strict, "bonjour").status_code == 403


@pytest.mark.django_db
def test_api_is_throttled(citizen_client, chatbot_rate):
    chatbot_rate("3/min")
    codes = [ask(citizen_client, "bonjour").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]


@pytest.mark.django_db
def test_smalltalk_greeting_thanks_and_agent_request(citizen_client):
    greeting = ask(citizen_client, "Bonjour !").json()
    assert greeting["outcome"] == "smalltalk"
    assert "assistant virtuel" in greeting["text"]
    thanks = ask(citizen_client, "merci beaucoup", greeting["conversation"]).json()
    assert thanks["outcome"] == "smalltalk"
    human = ask(citizen_client, "je veux parler à un conseiller", greeting["conversation"]).json()
    assert human["outcome"] == "handoff"
    assert human["handoff"]["reason"] == "request"
    kinds = [o["kind"] for o in human["handoff"]["options"]]
    assert "message" in kinds and "callback" in kinds


@pytest.mark.django_db
def test_a_greeting_before_a_question_it_is_unsure_of_is_not_small_talk(citizen_client):
    """A greeting alone ("Bonjour, une petite question") is small talk; "bonjour" followed by
    a whole sentence the engine cannot place is a question it does not know (suggestions,
    topics), not a hello."""
    short = ask(citizen_client, "bonjour, une petite question").json()
    assert short["outcome"] == "smalltalk"
    long = ask(
        citizen_client,
        "bonjour madame, mon truc machin ne marche plus depuis la semaine dernière",
        short["conversation"],
    ).json()
    assert long["outcome"] == "dont_know" and long["topics"]


@pytest.mark.django_db
def test_two_failures_in_a_row_offer_a_human(citizen_client):
    first = ask(citizen_client, "quel temps fera-t-il demain à Paris ?").json()
    assert first["outcome"] == "dont_know"
    assert first["handoff"] is None
    assert "reformuler" in first["text"]
    assert first["topics"]  # suggests topics to browse
    second = ask(citizen_client, "donne moi une recette de crêpes", first["conversation"]).json()
    assert second["outcome"] == "dont_know"
    assert second["handoff"]["reason"] == "failures"
    assert Conversation.objects.get(pk=first["conversation"]).handoff_offered


@pytest.mark.django_db
def test_a_good_answer_resets_the_failure_count(citizen_client):
    c = ask(citizen_client, "quel temps fera-t-il demain ?").json()["conversation"]
    assert ask(citizen_client, "mot de passe oublié", c).json()["outcome"] == "answered"
    third = ask(citizen_client, "une recette de crêpes ?", c).json()
    assert third["outcome"] == "dont_know" and third["handoff"] is None


@pytest.mark.django_db
def test_thumbs_down_counts_as_a_failure(citizen_client):
    first = ask(citizen_client, "la recette des crêpes").json()
    answer = ask(citizen_client, "mon compte est bloqué", first["conversation"]).json()
    assert answer["outcome"] == "answered"
    rating_url = reverse("knowledge:api_chatbot_rating", args=[answer["turn"]])
    # answered: counter back to 0; a thumbs-down is failure 1, a new "don't know" failure 2
    down = citizen_client.post(rating_url, {"value": -1}, content_type="application/json").json()
    assert down["rating"] == -1 and down["handoff"] is None
    third = ask(citizen_client, "recette de la pizza", first["conversation"]).json()
    assert third["handoff"]["reason"] == "failures"
    assert Turn.objects.get(pk=answer["turn"]).rating == -1


@pytest.mark.django_db
def test_two_thumbs_down_in_a_row_offer_a_human(citizen_client):
    a = ask(citizen_client, "j'ai perdu ma carte vitale").json()
    b = ask(citizen_client, "mot de passe oublié", a["conversation"]).json()
    url = lambda t: reverse("knowledge:api_chatbot_rating", args=[t])  # noqa: E731
    citizen_client.post(url(a["turn"]), {"value": -1}, content_type="application/json")
    response = citizen_client.post(url(b["turn"]), {"value": -1}, content_type="application/json")
    # both answered (counter at 0), then two thumbs-down: failures 1 and 2
    assert response.json()["handoff"]["reason"] == "failures"


@pytest.mark.django_db
def test_rating_validation_and_ownership(citizen_client, citizen2, client_as):
    answer = ask(citizen_client, "mon compte est bloqué").json()
    url = reverse("knowledge:api_chatbot_rating", args=[answer["turn"]])
    bad = citizen_client.post(url, {"value": 5}, content_type="application/json")
    assert bad.status_code == 400 and "value" in bad.json()["errors"]
    other = client_as(citizen2).post(url, {"value": 1}, content_type="application/json")
    assert other.status_code == 404
    up = citizen_client.post(url, {"value": 1}, content_type="application/json")
    assert up.status_code == 200 and up.json()["rating"] == 1


@pytest.mark.django_db
def test_someone_elses_conversation_is_a_404(citizen_client, citizen2, client_as):
    conversation = ask(citizen_client, "bonjour").json()["conversation"]
    response = ask(client_as(citizen2), "bonjour", conversation)
    assert response.status_code == 404
    assert Turn.objects.filter(conversation_id=conversation).count() == 1


@pytest.mark.django_db
def test_escalate_article_is_answered_and_offers_a_human_at_once(citizen_client):
    data = ask(citizen_client, "mon compte est bloqué après trop de tentatives").json()
    assert data["article"]["slug"] == "compte-bloque"
    assert data["article"]["escalate"] is True
    assert data["handoff"]["reason"] == "escalate"


@pytest.mark.django_db
def test_distress_offers_a_human_and_flags_fragile_in_handoff_urls(citizen_client, citizen):
    data = ask(citizen_client, "je n'en peux plus, mes allocations ne sont pas arrivées").json()
    assert data["handoff"]["reason"] == "distress"
    assert data["handoff"]["fragile"] is True
    conversation = Conversation.objects.get(pk=data["conversation"])
    assert conversation.fragile
    message = next(o for o in data["handoff"]["options"] if o["kind"] == "message")
    response = citizen_client.get(message["url"])
    assert response.status_code == 302
    target = urlparse(response["Location"])
    assert target.path == "/espace/demandes/nouvelle/"
    query = parse_qs(target.query)
    assert query["fragile"] == ["1"]
    assert query["chatbot"] == [str(conversation.pk)]
    assert query["topic"] == ["emploi"]
    conversation.refresh_from_db()
    assert conversation.handoff_kind == "message" and conversation.handed_off_at


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["c'est urgent !", "vous êtes des incompétents", "ras le bol"])
def test_anger_and_urgency_words_are_detected(citizen_client, text):
    data = ask(citizen_client, text).json()
    assert data["handoff"] and data["handoff"]["fragile"] is True


@pytest.mark.django_db
def test_an_insult_is_not_answered_with_the_article_its_words_resemble(citizen_client):
    # "aide" and "argent" are words of the articles (aide d'urgence, payer ses impôts): the
    # insult gets an apology and an adviser, not an article.
    for text in (
        "franchement ton aide vaut zéro, pire assistant jamais croisé",
        "Service lamentable, vous êtes une bande de parasites payés avec mon argent",
    ):
        data = ask(citizen_client, text).json()
        assert data["outcome"] == "handoff" and data["article"] is None
        assert data["handoff"]["reason"] == "distress" and data["handoff"]["fragile"] is True
        assert data["text"].startswith("Je suis désolé")
        assert Turn.objects.get(pk=data["turn"]).smalltalk == "insulte"
    # The same anger with a question gets its answer (and the offer of a human).
    data = ask(citizen_client, "t'es nul, comment je refais ma carte vitale perdue ?").json()
    assert data["outcome"] == "answered"
    assert data["article"]["slug"] == "carte-vitale-perdue"
    assert data["handoff"]["reason"] == "distress"


@pytest.mark.django_db
def test_live_chat_is_offered_only_when_routing_says_an_agent_is_free(citizen_client, monkeypatch):
    monkeypatch.setattr(
        services.chatbot, "_routing_chat_available", lambda topic: topic.slug == "compte"
    )
    data = ask(citizen_client, "mon compte est bloqué").json()
    options = data["handoff"]["options"]
    assert options[0]["kind"] == "chat" and data["handoff"]["chat_available"] is True
    response = citizen_client.get(options[0]["url"])
    target = urlparse(response["Location"])
    assert target.path == "/tchat/nouveau/"
    assert parse_qs(target.query)["topic"] == ["compte"]
    monkeypatch.setattr(services.chatbot, "_routing_chat_available", lambda topic: False)
    data = ask(citizen_client, "mon compte est bloqué").json()
    assert [o["kind"] for o in data["handoff"]["options"]] == ["message", "callback"]


@pytest.mark.django_db
def test_callback_handoff_url(citizen_client):
    data = ask(citizen_client, "mon compte est bloqué").json()
    callback = next(o for o in data["handoff"]["options"] if o["kind"] == "callback")
    target = urlparse(citizen_client.get(callback["url"])["Location"])
    assert target.path == "/rappel/nouveau/"
    assert parse_qs(target.query) == {"topic": ["compte"]}


@pytest.mark.django_db
def test_handoff_relay_of_someone_else_is_404(citizen_client, citizen2, client_as):
    data = ask(citizen_client, "je veux parler à un conseiller").json()
    url = reverse("knowledge:handoff", args=[data["conversation"], "message"])
    assert client_as(citizen2).get(url).status_code == 404
    bad_kind = reverse("knowledge:handoff", args=[data["conversation"], "fax"])
    assert citizen_client.get(bad_kind).status_code == 404


@pytest.mark.django_db
def test_transcript_for_its_owner_only(citizen_client, citizen, citizen2):
    a = ask(citizen_client, "bonjour").json()
    ask(citizen_client, "j'ai perdu ma carte vitale", a["conversation"])
    text = services.handoff_transcript(a["conversation"], citizen)
    assert "Usager : bonjour" in text
    assert "Usager : j'ai perdu ma carte vitale" in text
    assert "Remplacer une carte Vitale" in text
    assert services.handoff_transcript(a["conversation"], citizen2) == ""
    assert services.handoff_transcript("not-a-number", citizen) == ""
    assert services.handoff_transcript(999999, citizen) == ""


@pytest.mark.django_db
def test_handoff_context_and_attach_to_case(citizen_client, citizen, citizen2, topic_a):
    from contactcenter.services import open_case

    data = ask(citizen_client, "c'est urgent, je n'en peux plus des impôts").json()
    context = services.handoff_context(str(data["conversation"]), citizen)
    assert context["fragile"] is True
    assert context["transcript"].startswith("Échange avec l'assistant virtuel")
    assert services.handoff_context(data["conversation"], citizen2) is None
    case, _ = open_case(
        citizen=citizen,
        topic=topic_a,
        kind="question",
        channel="web",
        subject="Aide",
        body="...",
        route=False,
    )
    event = services.attach_conversation_to_case(data["conversation"], citizen, case)
    assert event.type == Event.Type.CHATBOT
    assert "Usager : c'est urgent" in event.body
    case.refresh_from_db()
    assert case.fragile is True
    # once only
    assert services.attach_conversation_to_case(data["conversation"], citizen, case) is None
    assert case.events.filter(type=Event.Type.CHATBOT).count() == 1
    other_case = Case.objects.create(
        reference="2026-999999",
        citizen=citizen2,
        topic=topic_a,
        service=topic_a.service,
        kind="question",
        channel="web",
        subject="x",
    )
    assert services.attach_conversation_to_case(data["conversation"], citizen2, other_case) is None


@pytest.mark.django_db
def test_assistant_page_needs_login_and_has_no_inline_script(citizen_client, client):
    assert client.get("/assistant/").status_code == 302
    response = citizen_client.get("/assistant/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'src="/static/knowledge/js/chatbot.js"' in html
    assert "<script>" not in html
    assert 'data-api-url="/api/chatbot/messages"' in html
    assert 'role="log"' in html and 'aria-live="polite"' in html


@pytest.mark.django_db
def test_a_conversation_idle_for_30_minutes_starts_afresh(citizen_client):
    first = ask(citizen_client, "quel temps fera-t-il demain ?").json()
    Conversation.objects.filter(pk=first["conversation"]).update(
        last_activity_at=timezone.now() - dt.timedelta(minutes=31)
    )
    second = ask(citizen_client, "une recette de crêpes ?", first["conversation"]).json()
    assert second["conversation"] != first["conversation"]
    assert second["handoff"] is None  # the failure count started again
