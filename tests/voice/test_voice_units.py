"""The voice server's parts without the network: SDP offer/answer, RFC 4733 and SIP INFO
digits, the menu prompts, the self-service follow-up, the dialogue (on a scripted line), the
call's timeline event, the prompt cache and the menu versions in the admin."""

from __future__ import annotations

import re
import struct
from collections import deque
from zoneinfo import ZoneInfo

import pytest
from django.contrib import admin
from django.test import RequestFactory
from sippy.MsgBody import MsgBody
from sippy.SipContentType import SipContentType

from contactcenter.models import Event, Topic, User
from contactcenter.services import open_case
from voice import services, tts
from voice.admin import MenuAdmin
from voice.ivr import Dialogue, HungUp
from voice.media import parse_telephone_event
from voice.models import Call, Menu, MenuNode
from voice.server import OfferError, answer_sdp, offer_direction, parse_info_digit, parse_offer

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 8 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n"
)


def ctype(name: str) -> SipContentType:
    content_type = SipContentType(name)
    content_type.parse()
    return content_type


def test_offer_and_answer():
    remote, event_pt = parse_offer(MsgBody(OFFER, mtype=ctype("application/sdp")))
    assert remote == ("127.0.0.1", 4000)
    assert event_pt == 96
    answer = str(answer_sdp("127.0.0.1", 20002, 96))
    assert "m=audio 20002 RTP/AVP 0 96" in answer
    assert "a=rtpmap:96 telephone-event/8000" in answer
    with pytest.raises(OfferError):
        parse_offer(
            MsgBody(OFFER.replace("RTP/AVP 0 8 96", "RTP/AVP 8 96"), mtype=ctype("application/sdp"))
        )
    with pytest.raises(OfferError):
        parse_offer(None)


def test_hold_offer_gets_a_recvonly_answer():
    hold = MsgBody(OFFER + "a=sendonly\r\n", mtype=ctype("application/sdp"))
    parse_offer(hold)
    assert offer_direction(hold) == "recvonly"
    assert "a=recvonly" in str(answer_sdp("127.0.0.1", 20002, None, "recvonly"))
    plain = MsgBody(OFFER, mtype=ctype("application/sdp"))
    parse_offer(plain)
    assert offer_direction(plain) == "sendrecv"


def rtp(pt: int, payload: bytes, timestamp: int = 1234, csrc: int = 0) -> bytes:
    header = struct.pack("!BBHII", 0x80 | csrc, pt, 7, timestamp, 42) + b"\0" * 4 * csrc
    return header + payload


def test_rfc4733_events():
    assert parse_telephone_event(rtp(101, bytes([5, 0x0A, 0, 160])), 101) == (1234, "5")
    assert parse_telephone_event(rtp(101, bytes([10, 0x8A, 1, 64]), csrc=2), 101) == (1234, "*")
    assert parse_telephone_event(rtp(101, bytes([11, 0, 0, 0])), 101)[1] == "#"
    assert parse_telephone_event(rtp(0, b"\xff" * 160), 101) is None  # voice
    assert parse_telephone_event(rtp(101, bytes([200, 0, 0, 0])), 101) is None  # not a key
    assert parse_telephone_event(b"\x80\x65", 101) is None  # truncated


def test_sip_info_digits():
    assert (
        parse_info_digit(
            MsgBody("Signal=7\r\nDuration=160\r\n", mtype=ctype("application/dtmf-relay"))
        )
        == "7"
    )
    assert parse_info_digit(MsgBody("#", mtype=ctype("application/dtmf"))) == "#"
    assert parse_info_digit(MsgBody("Signal=x", mtype=ctype("application/dtmf-relay"))) is None
    assert parse_info_digit(None) is None


def test_numbers():
    assert services.e164("0612345678") == "+33612345678"
    assert services.e164("33612345678") == "+33612345678"
    assert services.e164("anonymous") == ""
    assert services.reference_from_digits("2026000123") == "2026-000123"
    assert services.reference_from_digits("20260001") == ""
    assert services.spoken_digits("2026-000123") == "2 0 2 6, 0 0 0 1 2 3"


@pytest.fixture
def phone_setup(db, service_a):
    service_a.phone = "+33140000000"
    service_a.save()
    topic = Topic.objects.create(service=service_a, title="Impôt sur le revenu")
    citizen = User.objects.create_user(
        username="cam", email="cam@example.fr", password="x", mobile_phone="+33612345678"
    )
    other = User.objects.create_user(username="lou", email="lou@example.fr", password="x")
    case, _ = open_case(
        citizen=citizen, topic=topic, kind="question", channel="web", subject="Q", route=False
    )
    other_case, _ = open_case(
        citizen=other, topic=topic, kind="question", channel="web", subject="Q", route=False
    )
    menu = Menu.objects.create(
        service=service_a, version=1, status=Menu.Status.PUBLISHED, welcome="Bienvenue."
    )
    track = MenuNode.objects.create(
        menu=menu, digit="1", label="suivre une demande", action=MenuNode.Action.TRACK_REQUEST
    )
    info = MenuNode.objects.create(
        menu=menu,
        digit="2",
        label="nos services",
        action=MenuNode.Action.SUBMENU,
        prompt="Informations.",
    )
    MenuNode.objects.create(
        menu=menu,
        parent=info,
        digit="1",
        label="les horaires",
        action=MenuNode.Action.MESSAGE,
        prompt="Ouvert de 9 à 17 heures.",
    )
    return {"menu": menu, "case": case, "other_case": other_case, "track": track, "info": info}


def test_start_call_identifies_service_menu_and_caller(phone_setup):
    call = services.start_call("abc@host", "0612345678", "0140000000")
    assert call.service_id == phone_setup["menu"].service_id
    assert call.menu == phone_setup["menu"]
    assert call.citizen is not None and call.citizen.email == "cam@example.fr"
    unknown = services.start_call("def@host", "0699999999", "0140000000")
    assert unknown.citizen is None
    assert services.start_call("ghi@host", "0612345678", "0100000000").service is None


def test_menu_prompt(phone_setup):
    menu, info = phone_setup["menu"], phone_setup["info"]
    root = services.menu_choices(menu, None)
    assert services.menu_prompt(menu, None, root) == (
        "Pour suivre une demande, tapez 1. Pour nos services, tapez 2. "
        "Pour parler à un conseiller, tapez 0. Pour réécouter ce menu, tapez étoile."
    )
    sub = services.menu_prompt(menu, info, services.menu_choices(menu, info))
    assert sub.startswith("Informations. Pour les horaires, tapez 1.")
    assert sub.endswith("Pour revenir au menu précédent, tapez dièse.")
    assert phone_setup["info"].children.get().path() == "2-1"


def test_track_request_only_reads_the_callers_own_case(phone_setup):
    case, other = phone_setup["case"], phone_setup["other_case"]
    call = services.start_call("a@h", "0612345678", "0140000000")
    result = services.track_request(call, case.reference.replace("-", ""))
    assert result.found and "Nouvelle" in result.speech
    assert "Dernière étape : Message" in result.speech
    call.refresh_from_db()
    assert call.case == case
    refused = services.track_request(call, other.reference.replace("-", ""))
    unknown = services.track_request(call, "2026999999")
    assert not refused.found and refused.speech == unknown.speech
    anonymous = services.start_call("b@h", "anonymous", "0140000000")
    assert not services.track_request(anonymous, case.reference.replace("-", "")).found


CODE = "code"


def last_code() -> str:
    from messaging.models import Notification

    sms = Notification.objects.filter(kind="code").latest("pk")
    assert sms.channel == "sms" and sms.address == "+33612345678"
    match = re.search(r"\b(\d{6})\b", sms.text)
    assert match is not None
    return match.group(1)


class ScriptedLine:
    """A line whose caller presses the scripted keys after each prompt, then hangs up."""

    def __init__(self, keys: list[str | None]) -> None:
        self.keys = deque(keys)
        self.said: list[str] = []
        self.hung_up = False

    def say(self, text: str, audio: bytes | None = None) -> bool:
        self.said.append(text)
        return True

    def next_digit(self, timeout: float) -> str | None:
        if not self.keys:
            raise HungUp
        key = self.keys.popleft()
        if key == CODE:  # the caller types the code of the last SMS they received
            self.keys.extendleft(reversed([*last_code(), "#"]))
            key = self.keys.popleft()
        return key

    def flush_digits(self) -> None:
        pass

    def hangup(self) -> None:
        self.hung_up = True


def run(call: Call, keys: list[str | None]) -> ScriptedLine:
    line = ScriptedLine(keys)
    try:
        Dialogue(line, call).run()
    except HungUp:
        services.end_call(call, Call.EndedBy.CALLER)
    call.refresh_from_db()
    return line


def test_dialogue_submenu_invalid_choice_and_back(phone_setup):
    call = services.start_call("c@h", "0699999999", "0140000000")
    line = run(call, ["9", "2", "1", "#"])
    assert "Ce choix n'existe pas." in line.said
    assert "Ouvert de 9 à 17 heures." in line.said
    assert call.menu_path == ["2", "2-1"]
    assert call.ended_by == Call.EndedBy.CALLER
    assert call.position == "menu"
    assert not Event.objects.filter(type=Event.Type.CALL).exists()  # no case reached


def test_dialogue_no_answer_ends_the_call(phone_setup):
    call = services.start_call("d@h", "0699999999", "0140000000")
    line = run(call, [None, None, None])
    assert line.said.count(line.said[1]) == 3  # the menu, read again twice
    assert line.said[-1] == "Merci de votre appel. Au revoir."
    assert line.hung_up and call.ended_by == Call.EndedBy.SERVER


def test_dialogue_track_request_writes_the_call_on_the_timeline(phone_setup):
    case = phone_setup["case"]
    call = services.start_call("e@h", "0612345678", "0140000000")
    run(call, ["1", CODE, *case.reference.replace("-", ""), "#"])
    event = Event.objects.get(case=case, type=Event.Type.CALL)
    assert event.channel == "phone" and not event.internal
    assert event.payload["menu_path"] == ["1"]
    assert event.payload["self_service"] == [{"kind": "track_request", "completed": True}]
    assert event.payload["ended_by"] == "caller"


def test_dialogue_unidentified_caller_cannot_track(phone_setup):
    call = services.start_call("f@h", "0699999999", "0140000000")
    line = run(call, ["1"])
    assert any("numéro de mobile enregistré" in text for text in line.said)
    (step,) = [s for s in call.steps if s["step"] == "self_service"]
    assert step["completed"] is False and step["reason"] == "unidentified"


def test_lost_calls_are_closed(phone_setup):
    call = services.start_call("g@h", "0612345678", "0140000000")
    services.track_request(call, phone_setup["case"].reference.replace("-", ""))
    assert services.close_lost_calls() == 1
    call.refresh_from_db()
    assert call.ended_by == Call.EndedBy.LOST
    assert Event.objects.get(type=Event.Type.CALL).payload["ended_by"] == "lost"
    assert services.close_lost_calls() == 0


@pytest.mark.skipif(not tts.shutil.which("espeak-ng"), reason="espeak-ng not installed")
def test_prompt_cache(settings, tmp_path):
    settings.VOICE_PROMPT_CACHE = tmp_path
    audio = tts.synthesise("Bonjour.")
    assert 0.3 < len(audio) / tts.SAMPLE_RATE < 3  # μ-law: one byte a sample
    assert tts.cache_path("Bonjour.").read_bytes() == audio
    assert len(list(tmp_path.iterdir())) == 1
    assert tts.synthesise("Bonjour.") == audio


def test_admin_publish_and_copy(phone_setup, admin_user):
    menu = phone_setup["menu"]
    model_admin = MenuAdmin(Menu, admin.site)
    request = RequestFactory().post("/")
    request.user = admin_user
    model_admin.message_user = lambda *args, **kwargs: None
    menu.callbot_hints = "Passeport, carte d'identité."
    menu.save(update_fields=["callbot_hints"])
    model_admin.copy_to_draft(request, Menu.objects.filter(pk=menu.pk))
    draft = Menu.objects.get(service=menu.service, version=2)
    assert draft.status == Menu.Status.DRAFT
    assert draft.callbot_hints == "Passeport, carte d'identité."
    # A published version is frozen, its expected words included.
    assert "callbot_hints" in model_admin.get_readonly_fields(request, menu)
    assert {n.path() for n in draft.nodes.all()} == {"1", "2", "2-1"}
    model_admin.publish(request, Menu.objects.filter(pk=draft.pk))
    menu.refresh_from_db()
    draft.refresh_from_db()
    assert (menu.status, draft.status) == (Menu.Status.ARCHIVED, Menu.Status.PUBLISHED)
    assert services.start_call("h@h", "", "0140000000").menu == draft


def test_demo_menus(phone_setup, service_b):
    from voice.demo import load_demo

    service_b.phone = "+33150000000"
    service_b.save()
    assert load_demo() == 1  # service A already has its menu
    menu = Menu.objects.get(service=service_b)
    assert menu.status == Menu.Status.PUBLISHED
    assert [n.action for n in menu.root_nodes()] == ["track_request", "message"]
    assert load_demo() == 0


def test_the_call_is_in_the_citizens_history(phone_setup):
    from contactcenter.services import citizen_history

    case = phone_setup["case"]
    call = services.start_call("i@h", "0612345678", "0140000000")
    services.track_request(call, case.reference.replace("-", ""))
    services.end_call(call, Call.EndedBy.SERVER)
    (event,) = [e for e in citizen_history(case.citizen) if e.type == Event.Type.CALL]
    assert event.case == case and event.get_type_display() == "Appel au serveur vocal"


def test_admin_pages(phone_setup, admin_client):
    menu = phone_setup["menu"]
    page = admin_client.get(f"/admin/voice/menu/{menu.pk}/change/")
    assert page.status_code == 200
    assert b"suivre une demande" in page.content
    draft = Menu.objects.create(service=menu.service, version=2, welcome="Bonjour.")
    page = admin_client.get(f"/admin/voice/menu/{draft.pk}/change/")
    assert page.status_code == 200
    parent = page.context["inline_admin_formsets"][0].formset.form.base_fields["parent"]
    assert list(parent.queryset) == []  # the draft has no submenu yet
    assert admin_client.get("/admin/voice/call/").status_code == 200


def test_goodbye_in_a_submenu_ends_the_call_once(phone_setup):
    MenuNode.objects.create(
        menu=phone_setup["menu"],
        parent=phone_setup["info"],
        digit="9",
        label="terminer",
        action=MenuNode.Action.GOODBYE,
        prompt="À bientôt.",
    )
    call = services.start_call("j@h", "0699999999", "0140000000")
    line = run(call, ["2", "9"])
    assert line.said[-1] == "À bientôt."
    assert "Merci de votre appel. Au revoir." not in line.said
    assert line.hung_up and call.ended_by == Call.EndedBy.SERVER
    assert call.menu_path == ["2", "2-9"]


def test_no_answer_in_a_submenu_ends_the_call(phone_setup):
    call = services.start_call("k@h", "0699999999", "0140000000")
    line = run(call, ["2", None, None, None])
    assert line.said[-1] == "Merci de votre appel. Au revoir."
    assert call.ended_by == Call.EndedBy.SERVER


def test_second_factor_sms_code_then_the_status_is_read(phone_setup):
    from messaging.models import Notification

    case = phone_setup["case"]
    call = services.start_call("v@h", "0612345678", "0140000000")
    line = run(call, ["1", CODE, *case.reference.replace("-", ""), "#", "1"])
    (sms,) = Notification.objects.filter(kind="code")
    assert sms.case is None and case.reference not in sms.text
    assert any("Votre demande numéro" in text for text in line.said)
    assert [s["factor"] for s in call.steps if s["step"] == "verified"] == ["sms"]
    # Verified once a call: the second follow-up asks no new code.
    assert Notification.objects.filter(kind="code").count() == 1
    assert call.case == case


def test_three_wrong_codes_read_nothing_and_offer_an_adviser(phone_setup):
    case = phone_setup["case"]
    call = services.start_call("w@h", "0612345678", "0140000000")
    wrong = ["0", "0", "0", "0", "0", "0", "#"]
    line = run(call, ["1", *wrong, *wrong, *wrong, *case.reference.replace("-", ""), "#"])
    assert line.said.count("Ce code est incorrect.") == 2
    assert any("aucune information personnelle" in text for text in line.said)
    assert not any("Votre demande numéro" in text for text in line.said)
    assert [s["attempt"] for s in call.steps if s["step"] == "verify_failed"] == [1, 2, 3]
    assert any(s["step"] == "transfer_offered" for s in call.steps)
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["reason"] == "second_factor" and call.case is None
    # Failed for the whole call: choosing the follow-up again asks nothing, reads nothing.
    call2 = services.start_call("w2@h", "0612345678", "0140000000")
    line2 = run(call2, ["1", *wrong, *wrong, *wrong, "1"])
    assert sum("vérifier votre identité" in text for text in line2.said) == 3


def test_second_factor_without_answer_is_asked_three_times(phone_setup):
    call = services.start_call("x@h", "0612345678", "0140000000")
    line = run(call, ["1", None, None, None])
    assert sum("vérifier votre identité" in text for text in line.said) == 3
    assert any(s["step"] == "no_answer" and s.get("attempt") is None for s in call.steps)
    assert not any(s["step"] == "verified" for s in call.steps)


def test_welcome_says_the_hours_and_when_closed(phone_setup, service_a):
    import datetime

    from routing.calendar import clear_calendar_cache
    from routing.models import OpeningHours

    for weekday in range(5):
        OpeningHours.objects.create(
            service=service_a,
            weekday=weekday,
            start=datetime.time(8, 30),
            end=datetime.time(17, 30),
        )
    clear_calendar_cache()
    call = services.start_call("y@h", "0699999999", "0140000000")
    text = services.opening_hours(call)
    assert "Le service est ouvert du lundi au vendredi" in text
    line = run(call, [])
    assert line.said[0].startswith("Bienvenue. ")
    assert text in line.said[0]
    paris = ZoneInfo("Europe/Paris")
    monday_10 = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=paris)
    assert "fermés" not in services.opening_hours(call, monday_10)
    sunday = services.opening_hours(call, datetime.datetime(2026, 12, 6, 10, 0, tzinfo=paris))
    assert sunday.startswith("Nos services sont actuellement fermés.")
    assert "réouverture demain à 8 h 30" in sunday
    christmas = services.opening_hours(call, datetime.datetime(2026, 12, 25, 10, 0, tzinfo=paris))
    assert "Noël" in christmas


@pytest.fixture
def callback_node(phone_setup, agent_a, service_a):
    import datetime

    from routing.calendar import clear_calendar_cache
    from routing.models import OpeningHours

    for weekday in range(7):
        OpeningHours.objects.create(
            service=service_a, weekday=weekday, start=datetime.time(0), end=datetime.time(23, 59)
        )
    clear_calendar_cache()
    topic = Topic.objects.get(title="Impôt sur le revenu")
    return MenuNode.objects.create(
        menu=phone_setup["menu"],
        digit="3",
        label="être rappelé",
        action=MenuNode.Action.CALLBACK,
        topic=topic,
    )


def test_callback_booked_in_the_second_slot_read_out(callback_node):
    from routing.models import CallbackRequest

    offered = services.callback_offer(callback_node)
    assert len(offered) == 3
    call = services.start_call("cb@h", "0612345678", "0140000000")
    line = run(call, ["3", CODE, None, "7", "2"])
    offer = next(text for text in line.said if text.startswith("Pour être rappelé le "))
    assert offer.count("Pour être rappelé le ") == 3
    assert services.spoken_slot(offered[1]) + ", tapez 2." in offer
    assert "Ce choix n'existe pas." in line.said
    booking = CallbackRequest.objects.get()
    assert booking.slot_start == offered[1].start and booking.phone == "+33612345678"
    assert booking.case.citizen.mobile_phone == "+33612345678"
    assert booking.case.channel == "callback"
    assert any(text.startswith("Votre rappel est réservé le ") for text in line.said)
    assert call.case == booking.case
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["kind"] == "callback" and done["completed"] is True
    event = Event.objects.get(case=booking.case, type=Event.Type.CALL)
    assert event.payload["self_service"] == [{"kind": "callback", "completed": True}]


def test_callback_needs_identification_and_a_free_slot(callback_node, agent_a):
    from routing.models import CallbackRequest

    stranger = services.start_call("cb2@h", "0699999999", "0140000000")
    line = run(stranger, ["3"])
    assert any("numéro de mobile enregistré" in text for text in line.said)
    agent_a.is_active = False
    agent_a.save()
    call = services.start_call("cb3@h", "0612345678", "0140000000")
    line = run(call, ["3", CODE])
    assert any(text.startswith("Aucun créneau de rappel") for text in line.said)
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["reason"] == "no_slot"
    assert not CallbackRequest.objects.exists()


def test_callback_node_needs_a_topic_of_the_service(phone_setup, service_b):
    from django.core.exceptions import ValidationError

    other = Topic.objects.create(service=service_b, title="Ailleurs", slug="ailleurs")
    node = MenuNode(menu=phone_setup["menu"], digit="4", label="x", action="callback")
    with pytest.raises(ValidationError):
        node.full_clean()
    node.topic = other
    with pytest.raises(ValidationError):
        node.full_clean()


@pytest.fixture
def mobile_node(phone_setup):
    return MenuNode.objects.create(
        menu=phone_setup["menu"],
        digit="5",
        label="changer de mobile",
        action=MenuNode.Action.CHANGE_MOBILE,
    )


def test_change_mobile_typed_twice(mobile_node):
    from messaging.models import Notification

    call = services.start_call("m@h", "0612345678", "0140000000")
    new = [*"0698765432", "#"]
    mismatch = [*"0698765433", "#"]
    line = run(call, ["5", CODE, *"0123", "#", *new, *mismatch, *new, *new])
    assert "Ce numéro n'est pas un numéro de mobile français." in line.said
    assert "Les deux numéros saisis sont différents." in line.said
    assert any("0 6 9 8 7 6 5 4 3 2" in text for text in line.said)
    citizen = User.objects.get(email="cam@example.fr")
    assert citizen.mobile_phone == "+33698765432"
    alert = Notification.objects.filter(kind="code").latest("pk")
    assert alert.address == "+33612345678" and "changé" in alert.text
    (changed,) = [s for s in call.steps if s["step"] == "mobile_changed"]
    assert changed["old"] == "78" and changed["new"] == "32"
    assert services.identify_caller("0698765432") == citizen
    assert services.identify_caller("0612345678") is None
    # Only the new number; the old one stays free.
    assert services.mobile_from_keypad("0033612345678") == "+33612345678"
    assert services.mobile_from_keypad("0140000000") == ""


def test_change_mobile_refused_when_another_citizen_has_it(mobile_node):
    User.objects.create_user(
        username="zoe", email="zoe@example.fr", password="x", mobile_phone="+33611111111"
    )
    call = services.start_call("m2@h", "0612345678", "0140000000")
    line = run(call, ["5", CODE, *"0611111111", "#", *"0611111111", "#"])
    assert any("ne peut pas être enregistré" in text for text in line.said)
    assert User.objects.get(email="cam@example.fr").mobile_phone == "+33612345678"
    (done,) = [s for s in call.steps if s["step"] == "self_service"]
    assert done["reason"] == "refused"
