"""The callbot without SIP or a speech model: its voice detector on synthetic audio, the
yes/no/adviser patterns, and its dialogue with what the caller "said" given as transcripts
(the chatbot's real understanding on a small knowledge base). The real thing, with baresip and
Whisper, is tests/voice/test_callbot_baresip.py."""

from __future__ import annotations

import array
import math

import pytest

from contactcenter import speech
from contactcenter.models import Service, Topic, User
from knowledge import engine
from knowledge.models import Article
from voice import callbot, services
from voice.ivr import BACK, GOODBYE_SAID, Dialogue
from voice.models import Menu


class Chunk:
    def __init__(self, samples: array.array, samplerate: int = 8000) -> None:
        self.audio = samples
        self.samplerate = samplerate


def chunks(seconds: float, loud: bool) -> list[Chunk]:
    """100 ms chunks of a 440 Hz sine (loud) or faint noise (quiet)."""
    out = []
    amplitude = 6000 if loud else 100
    for index in range(round(seconds * 10)):
        out.append(
            Chunk(
                array.array(
                    "h",
                    (
                        int(amplitude * math.sin(2 * math.pi * 440 * (index * 800 + i) / 8000))
                        for i in range(800)
                    ),
                )
            )
        )
    return out


def test_an_utterance_ends_after_its_silence():
    capture = callbot.Capture()
    for chunk in chunks(1, False):
        capture(chunk)
    assert not capture.started.is_set()
    for chunk in chunks(1.5, True):
        capture(chunk)
    assert capture.started.is_set() and not capture.done.is_set()
    for chunk in chunks(0.5, False):
        capture(chunk)
    assert not capture.done.is_set()  # 0.5 s of quiet: a pause between words
    for chunk in chunks(0.5, False):
        capture(chunk)
    assert capture.done.is_set()
    seconds = len(capture.pcm()) / 2 / 8000
    assert 2.4 <= seconds <= 2.6  # 0.2 s before the start, 1.5 s of sound, 0.8 s of quiet


def test_an_utterance_is_cut_at_eight_seconds():
    capture = callbot.Capture()
    for chunk in chunks(10, True):
        capture(chunk)
    assert capture.done.is_set()
    assert len(capture.pcm()) / 2 / 8000 <= speech.MAX_UTTERANCE + 0.2


def test_answers_are_read_from_the_words():
    assert callbot.YES.search(callbot.plain("Oui, ça me convient."))
    assert callbot.NO.search(callbot.plain("Non, pas du tout."))
    assert callbot.ADVISER.search(callbot.plain("Je veux parler à un Conseiller."))
    assert not callbot.ADVISER.search(callbot.plain("Je voudrais renouveler mon passeport."))


class FakeLine:
    def __init__(self) -> None:
        self.said: list[str] = []

    def say(self, text, audio=None):
        self.said.append(text)
        return True

    def next_digit(self, timeout):
        return None

    def flush_digits(self):
        pass

    def hangup(self):
        pass

    def hear(self, consumer):
        pass

    def check(self):
        pass


@pytest.fixture
def bot(db, monkeypatch):
    service = Service.objects.create(code="mairie", name="Mairie", phone="+33140000000")
    papers = Topic.objects.create(service=service, slug="papiers", title="Papiers d'identité")
    Article.objects.create(
        slug="renouveler-passeport",
        topic=papers,
        title="Renouveler son passeport",
        body="Prenez rendez-vous en mairie avec votre ancien passeport et une photo.",
        questions=["Comment renouveler mon passeport ?", "Mon passeport est périmé"],
        status="published",
        audience="public",
    )
    engine.reset_engine()
    Menu.objects.create(
        service=service,
        version=1,
        status="published",
        welcome="Bonjour.",
        callbot_hints=" Passeport, carte d'identité. ",
    )
    User.objects.create_user(
        username="cam", email="cam@example.fr", password="x", mobile_phone="+33612345678"
    )
    call = services.start_call("cb@h", "0612345678", "0140000000")
    line = FakeLine()
    dialogue = Dialogue(line, call)
    transfers: list[str] = []
    monkeypatch.setattr(dialogue, "to_agent", lambda reason: transfers.append(reason) or "agent")
    robot = callbot.Callbot(dialogue)
    heard: list[object] = []
    expected: list[str] = []

    def listen(hints):
        expected.append(hints)
        return heard.pop(0) if heard else None

    monkeypatch.setattr(robot, "listen", listen)
    robot.expected = expected  # the hints given to the recogniser at each turn
    yield robot, line, heard, transfers, papers
    engine.reset_engine()


def said(text: str) -> speech.Transcript:
    return speech.Transcript(text, 0.8, 2.0)


def test_an_answer_that_suits_ends_with_the_satisfaction_question(bot):
    robot, line, heard, transfers, papers = bot
    heard += [said("Comment renouveler mon passeport ?"), said("Oui, merci."), "4"]
    assert robot.run() == GOODBYE_SAID
    assert any("Renouveler son passeport" in text for text in line.said)
    assert any("Cette réponse vous convient-elle" in text for text in line.said)
    # The question is heard expecting the menu's words, the confirmation "oui" or "non".
    assert robot.expected[:2] == ["Passeport, carte d'identité.", callbot.CONFIRM_HINTS]
    steps = robot.call.steps
    (first,) = [s for s in steps if s["step"] == "callbot_heard"]
    assert first["article"] == "renouveler-passeport" and first["topic"] == papers.pk
    assert [s["answer"] for s in steps if s["step"] == "callbot_confirm"] == ["yes"]
    assert {"step": "self_service", "kind": "callbot", "completed": True}.items() <= {
        k: v for s in steps if s["step"] == "self_service" for k, v in s.items()
    }.items()
    assert not transfers


def test_two_failures_go_to_an_agent(bot):
    robot, line, heard, transfers, _papers = bot
    heard += [said("Comment renouveler mon passeport ?"), said("Non."), said("Blablabla zut.")]
    assert robot.run() == "agent"
    assert transfers == ["callbot_failures"]


def test_saying_adviser_or_pressing_0_goes_to_an_agent(bot):
    robot, _line, heard, transfers, _papers = bot
    heard += [said("Je veux parler à un conseiller.")]
    assert robot.run() == "agent"
    heard += ["0"]
    assert robot.run() == "agent"
    assert transfers == ["callbot_request", "key"]


def test_distress_goes_to_an_agent(bot):
    robot, line, heard, transfers, _papers = bot
    heard += [said("Je n'en peux plus, je veux mourir.")]
    assert robot.run() == "agent"
    assert transfers == ["callbot_distress"]


def test_silence_or_another_key_leads_to_the_keypad_menu(bot):
    robot, _line, heard, transfers, _papers = bot
    assert robot.run() == BACK  # nothing said twice
    heard += ["*"]
    assert robot.run() == BACK
    ends = [s["reason"] for s in robot.call.steps if s["step"] == "callbot_end"]
    assert ends == ["silence", "key"] and not transfers


def test_without_a_backend_the_welcome_says_keys_only(bot, settings):
    robot, line, _heard, _transfers, _papers = bot
    settings.ASR_BACKEND = ""
    robot.dialogue.run()
    assert "fonctionne avec les touches de votre téléphone" in line.said[0]


def test_another_administrations_subject_is_redirected_then_asked_again(bot):
    """The callbot reads where to go instead and asks for another question: neither a
    failure nor a transfer."""
    from knowledge.models import Redirection

    robot, line, heard, transfers, _papers = bot
    Redirection.objects.update_or_create(
        slug="aides-logement",
        defaults={
            "title": "Aides au logement",
            "organisation": "CAF",
            "triggers": ["apl", "aide au logement"],
            "message": "Les aides au logement sont versées par la CAF.",
        },
    )
    engine.reset_engine()
    heard += [said("comment je demande l'apl"), None, None]
    assert robot.run() == BACK
    assert "Les aides au logement sont versées par la CAF." in line.said
    assert "Avez-vous une autre question ?" in line.said
    (step,) = [s for s in robot.call.steps if s["step"] == "callbot_heard"]
    assert step["outcome"] == "redirected"
    assert robot.failures == 0 and not transfers


def test_our_own_subject_without_an_article_goes_to_an_agent(bot):
    from knowledge.models import Redirection

    robot, line, heard, transfers, _papers = bot
    Redirection.objects.update_or_create(
        slug="vignette-test",
        defaults={
            "kind": "handoff",
            "title": "Vignette fiscale",
            "organisation": "Nos conseillers",
            "triggers": ["vignette fiscale"],
            "message": "Écrivez-nous depuis votre espace.",
        },
    )
    engine.reset_engine()
    heard += [said("euh c'est pour ma vignette fiscale")]
    assert robot.run() == "agent"
    assert transfers == ["callbot_subject"]
    assert "Un conseiller va vous répondre sur ce sujet." in line.said


@pytest.mark.django_db
@pytest.mark.parametrize("warm_up", [True, False])
def test_the_voice_server_builds_the_understanding_before_its_first_call(
    warm_up, settings, monkeypatch
):
    """KNOWLEDGE_WARM_UP (on in production): the first caller's question does not wait for the
    knowledge engine's build."""
    import io

    from django.core.management import call_command

    import voice.server
    from knowledge import warm_up

    class Server:
        host, port = "127.0.0.1", 5062

        def __init__(self, **options):
            pass

        def run(self):
            events.append("run")

        def stop(self):
            pass

    events: list[str] = []
    settings.KNOWLEDGE_WARM_UP = warm_up
    monkeypatch.setattr(voice.server, "VoiceServer", Server)
    monkeypatch.setattr(warm_up, "warm_up_in_background", lambda: events.append("warm-up"))
    monkeypatch.setattr("signal.signal", lambda *args: None)
    call_command("voice_server", stdout=io.StringIO(), stderr=io.StringIO())
    assert events == (["warm-up", "run"] if warm_up else ["run"])
