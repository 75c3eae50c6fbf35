"""Every page in English: no French interface words, dates in the English format.

The demo data is loaded (cases in every status, a finished chat, the knowledge base) and each
page is rendered by the persona who uses it, with the language cookie set to English. The data
itself stays French (service names, messages): the words looked for are interface words and
date parts that no demo text contains."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import get_resolver, reverse
from django.utils import timezone

from chat.models import Conversation
from contactcenter.models import Case, Channel, Topic, User
from knowledge.models import Article, DiagnosisTree, Tutorial
from routing.models import CallbackRequest

pytestmark = pytest.mark.django_db

# Interface words and date parts that must not appear on an English page.
FRENCH = [
    r"\bà \d",  # "1 December 2026 à 02:35"
    r"\d j \d",  # "2 j 0 h"
    r"\d (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre)\b",
    r"\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche) \d",
    r"\bdepuis\b",
    r"\bAucune?\b",
    r"\bEnvoyer\b",
    r"\bRechercher\b",
    r"\bEnregistrer\b",
    r"\bDemande n°",
    r"\bMon espace\b",
    r"\bSe déconnecter\b",
]

# Pages rendered below, by URL name. Every other GET route must be listed in NOT_PAGES.
NOT_PAGES = {
    # actions (POST), redirects, partials, files, JSON and the Django admin (its own i18n)
    "logout", "set_language", "favicon", "chat:index",
    # signed links, and pages of a state (half-done login, codes just made, account just
    # deleted): rendered in English by tests/accounts/test_english.py
    "accounts:verify", "accounts:resend", "accounts:email_confirm",
    "accounts:password_reset_confirm", "accounts:two_factor_verify", "accounts:recovery_codes",
    "accounts:deleted",
    "messaging:case_reply", "messaging:case_close", "messaging:case_reopen", "messaging:case_rate",
    "messaging:attachment", "mail:attachment", "mail:webhook_mailgun",
    "mail:webhook_postmark", "mail:webhook_mailersend",
    "console:take", "console:release", "console:assign", "console:reply", "console:note",
    "console:close", "console:reopen", "console:classify", "console:transfer",
    "console:case_access_reason", "console:citizen_access_reason",
    "console:quarantine_release", "console:quarantine_delete", "console:contact_trace",
    # the workstation's partials (tests/console/test_workstation.py checks them in English)
    "console:ws_items", "console:ws_queue", "console:ws_item", "console:ws_citizen",
    "console:ws_transfer",
    # the workstation's quarantine link (its English text: on console:quarantine's menu)
    "console:quarantine_link",
    "cobrowse:code", "cobrowse:end_current", "cobrowse:invite", "cobrowse:viewer",
    "cobrowse:agent_end",
    "dashboard:live", "dashboard:export_cases", "dashboard:export_table",
    "routing:status_widget",
    "routing:callback_slots", "routing:callback_cancel", "routing:callback_outcome",
    "routing:supervision_live",
    "chat:availability", "chat:send", "chat:upload", "chat:attachment", "chat:leave",
    "chat:rate", "chat:panel", "chat:finish", "chat:transfer",
    "knowledge:tutorial_video", "knowledge:tutorial_captions", "knowledge:tutorial_view",
    "knowledge:handoff",
    # the simulation kept across login: rendered in English by tests/simulators/test_attach.py
    "simulators:attach",
    "knowledge:deflection_suggestions", "knowledge:deflection_sufficient",
    "knowledge:markdown_preview",
    # OpenID Connect: redirects; the first-login page and the error page need a login at a
    # provider and are checked in English in tests/accounts/test_oidc.py
    "accounts:oidc_start", "accounts:oidc_callback", "accounts:oidc_logged_out",
    "accounts:oidc_complete", "accounts:oidc_link",
    # passkeys: JSON ceremonies and a POST action (tests/accounts/test_passkeys.py)
    "accounts:passkey_register_options", "accounts:passkey_register", "accounts:passkey_remove",
    "accounts:passkey_login_options", "accounts:passkey_login",
    # a lost staff device: the page needs a second factor in the session (not force_login);
    # checked in English in tests/accounts/test_staff_two_factor.py; the reset is a POST
    "accounts:staff_two_factor", "accounts:staff_two_factor_reset",
    # démarches: a POST action and a file
    "demarches:send_document", "demarches:download",
    # visio: POST actions
    "visio:open", "visio:interpreter",
    # community: POST actions and JSON
    "community:thread_json", "community:reply", "community:moderate_thread", "community:report",
    "community:accept", "community:moderate_post",
    # phone controls in the workstation: POST actions
    "console:ws_call", "console:ws_call_summary", "console:ws_link_caller",
    # appointments: POST actions and a file
    "appointments:cancel", "appointments:mark", "appointments:ics", "appointments:ws_day",
}  # fmt: skip
IGNORED_NAMESPACES = ("admin", "knowledge_editor")


def url_names() -> set[str]:
    names = set()

    def walk(patterns, namespace, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith("api/"):  # JSON, no page
                continue
            if hasattr(pattern, "url_patterns"):
                walk(pattern.url_patterns, pattern.namespace or namespace, route)
            elif pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns, None, "")
    return {name for name in names if not name.startswith(IGNORED_NAMESPACES)}


def english(user=None) -> Client:
    client = Client()
    client.cookies["django_language"] = "en"
    if user is not None:
        client.force_login(user)
    return client


def alert_service(user):
    from contactcenter.permissions import user_service_ids

    return user_service_ids(user)[0]


def pages():
    citizen = User.objects.get(email="camille.martin@example.fr")
    agent = User.objects.get(email="alice.durand@guichet.example.fr")
    supervisor = User.objects.get(email="sophie.lambert@guichet.example.fr")
    case = Case.objects.filter(citizen=citizen, service__agents__user=agent).first()
    case = case or Case.objects.filter(citizen=citizen).first()
    chat = Conversation.objects.first()
    topic = Topic.objects.filter(articles__isnull=False).first() or Topic.objects.first()
    article = Article.objects.filter(status="published", audience="public").first()
    tree = DiagnosisTree.objects.first()
    booked = Case.objects.filter(citizen=citizen).exclude(pk=case.pk).first()
    Case.objects.filter(pk=booked.pk).update(channel=Channel.CALLBACK)
    start = timezone.now() + timedelta(days=2)
    CallbackRequest.objects.create(
        case=booked, phone="0612345678", slot_start=start, slot_end=start + timedelta(minutes=30)
    )
    yield None, "home", reverse("home")
    yield None, "login", reverse("login")
    yield None, "accounts:signup", reverse("accounts:signup")
    yield None, "accounts:link_sent", reverse("accounts:link_sent")
    yield None, "accounts:password_reset", reverse("accounts:password_reset")
    yield None, "accounts:password_reset_done", reverse("accounts:password_reset_done")
    yield None, "accounts:password_reset_complete", reverse("accounts:password_reset_complete")
    yield citizen, "accounts:account", reverse("accounts:account")
    yield citizen, "accounts:email_change", reverse("accounts:email_change")
    yield citizen, "accounts:password_change", reverse("accounts:password_change")
    yield citizen, "accounts:delete", reverse("accounts:delete")
    yield citizen, "accounts:two_factor_enrol", reverse("accounts:two_factor_enrol")
    yield citizen, "accounts:two_factor_disable", reverse("accounts:two_factor_disable")
    yield citizen, "accounts:passkeys", reverse("accounts:passkeys")
    yield None, "knowledge:faq", reverse("knowledge:faq")
    yield None, "cobrowse:player", reverse("cobrowse:player")
    yield None, "knowledge:faq_topic", reverse("knowledge:faq_topic", args=[topic.slug])
    yield None, "knowledge:article", article.get_absolute_url()
    tutorial = Tutorial.objects.filter(status="published").first()
    yield None, "knowledge:tutorial", tutorial.get_absolute_url()
    yield citizen, "messaging:space", reverse("messaging:space")
    yield citizen, "messaging:new_request", reverse("messaging:new_request")
    yield citizen, "messaging:case_detail", reverse("messaging:case_detail", args=[case.reference])
    yield citizen, "messaging:history", reverse("messaging:history")
    yield citizen, "messaging:preferences", reverse("messaging:preferences")
    yield citizen, "messaging:access_log", reverse("messaging:access_log")
    yield citizen, "demarches:list", reverse("demarches:list")
    yield citizen, "cobrowse:citizen", reverse("cobrowse:citizen")
    yield citizen, "routing:callback_new", reverse("routing:callback_new")
    yield citizen, "routing:callback_detail", reverse("routing:callback_detail", args=[booked.pk])
    yield citizen, "chat:start", reverse("chat:start")
    yield chat.citizen, "chat:conversation", reverse("chat:conversation", args=[chat.pk])
    yield citizen, "knowledge:assistant", reverse("knowledge:assistant")
    yield agent, "console:home", reverse("console:home")
    yield agent, "console:case", reverse("console:case", args=[case.reference])
    yield agent, "console:contact_search", reverse("console:contact_search")
    yield agent, "console:contact_new", reverse("console:contact_new", args=[citizen.pk])
    yield agent, "console:citizen", reverse("console:citizen", args=[citizen.pk])
    yield agent, "console:workstation", reverse("console:workstation")
    from mail.models import Mailbox, QuarantinedMail

    service_topic = Topic.objects.filter(service__agents__user=agent).first()
    mailbox = Mailbox.objects.create(
        service=service_topic.service,
        address="boite@guichet.test",
        default_topic=service_topic,
        host="127.0.0.1",
        login="boite",
        password_env="UNSET",
    )
    held = QuarantinedMail.objects.create(mailbox=mailbox, key="k", error="LookupError", raw=b"x")
    yield agent, "console:quarantine", reverse("console:quarantine")
    from mail.services import import_message

    unidentified = import_message(
        mailbox, b"From: x@example.org\r\nSubject: Taxe\r\nMessage-ID: <x@example.org>\r\n\r\nA\r\n"
    ).message
    assert unidentified is not None and unidentified.case is not None
    yield (
        agent,
        "console:link_sender",
        reverse("console:link_sender", args=[unidentified.case.reference]),
    )
    yield agent, "console:quarantine_item", reverse("console:quarantine_item", args=[held.pk])
    yield agent, "cobrowse:agent", reverse("cobrowse:agent")
    yield agent, "chat:agent", reverse("chat:agent")
    yield agent, "knowledge:agent_search", reverse("knowledge:agent_search")
    yield agent, "knowledge:diagnosis_list", reverse("knowledge:diagnosis_list")
    if tree is not None:
        yield (
            agent,
            "knowledge:diagnosis_walk",
            reverse("knowledge:diagnosis_walk", args=[tree.slug]),
        )
    from appointments import services as appointment_services
    from appointments.models import AppointmentType
    from appointments.slots import free_slots

    atype = AppointmentType.objects.filter(service__agents__user=agent, mode="on_site").first()
    appointment = appointment_services.book(citizen, atype, free_slots(atype)[0].start)
    yield None, "appointments:contact", reverse("appointments:contact")
    yield citizen, "appointments:list", reverse("appointments:list")
    yield citizen, "appointments:book", reverse("appointments:book")
    yield citizen, "appointments:book", reverse("appointments:book") + f"?theme={atype.topic.slug}"
    yield citizen, "appointments:book", reverse("appointments:book") + f"?type={atype.pk}"
    detail_args = [appointment.public_id]
    yield citizen, "appointments:detail", reverse("appointments:detail", args=detail_args)
    yield citizen, "appointments:move", reverse("appointments:move", args=detail_args)
    yield (
        appointment.agent,
        "appointments:agent_day",
        reverse("appointments:agent_day")
        + (f"?jour={timezone.localtime(appointment.start).date().isoformat()}"),
    )
    yield (
        agent,
        "appointments:propose",
        reverse("appointments:propose", args=[case.reference]) + f"?type={atype.pk}",
    )
    yield supervisor, "knowledge:review", reverse("knowledge:review")
    yield supervisor, "dashboard:index", reverse("dashboard:index")
    yield supervisor, "routing:supervision", reverse("routing:supervision")
    yield (
        supervisor,
        "routing:supervision_agent",
        reverse("routing:supervision_agent", args=[agent.pk]),
    )
    yield (
        supervisor,
        "routing:supervision_reassign",
        reverse("routing:supervision_reassign", args=[case.pk]),
    )
    yield supervisor, "chat:supervision", reverse("chat:supervision")
    yield supervisor, "console:case", reverse("console:case", args=[case.reference])
    yield supervisor, "console:alert_templates", reverse("console:alert_templates")
    yield (
        supervisor,
        "console:alert_template_edit",
        reverse(
            "console:alert_template_edit",
            args=[alert_service(supervisor), "acknowledgement", "email", "en"],
        ),
    )
    from routing.models import Team

    team = Team.objects.create(service_id=alert_service(supervisor), name="Accueil")
    yield supervisor, "console:teams", reverse("console:teams")
    yield supervisor, "console:team_new", reverse("console:team_new", args=[team.service_id])
    yield (
        supervisor,
        "console:team_edit",
        reverse("console:team_edit", args=[team.service_id, team.pk]),
    )
    from messaging.preferences import unsubscribe_url

    link = unsubscribe_url(citizen.pk, "demarche_step")
    yield None, "messaging:unsubscribe", link[link.index("/alertes/") :]
    from contactcenter import surveys
    from contactcenter.models import Event, SurveyInvitation

    invitation = SurveyInvitation.objects.create(
        event=Event.objects.filter(case=case).first(),
        case=case,
        citizen=citizen,
        channel=case.channel,
        service=case.service,
        expires_at=timezone.now() + surveys.LINK_MAX_AGE,
    )
    yield citizen, "surveys", reverse("surveys")
    yield citizen, "survey_answer", reverse("survey_answer", args=[invitation.pk])
    yield None, "survey_link", reverse("survey_link", args=[surveys.make_token(invitation)])
    from community.models import Thread
    from visio.services import open_room

    yield None, "community:index", reverse("community:index")
    thread = Thread.objects.order_by("pk").first()
    yield None, "community:thread", reverse("community:thread", args=[thread.pk])
    yield citizen, "community:ask", reverse("community:ask")
    yield supervisor, "community:moderation", reverse("community:moderation")
    yield None, "simulators:income_tax", reverse("simulators:income_tax")
    yield citizen, "visio:mine", reverse("visio:mine")
    Case.objects.filter(pk=case.pk).update(assigned_to=agent, status=Case.Status.IN_PROGRESS)
    case.refresh_from_db()
    room = open_room(case, agent)
    for participant in room.participants.select_related("user"):
        yield participant.user, "visio:room", reverse("visio:room", args=[participant.token])


def test_every_page_in_english_has_no_french_interface_words():
    call_command("load_demo", verbosity=0)
    seen, problems = set(), []
    for user, name, url in pages():
        seen.add(name)
        response = english(user).get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        html = response.content.decode()
        assert '<html lang="en"' in html, name
        text = re.sub(r"<[^>]+>", " ", html)
        for pattern in FRENCH:
            for match in re.finditer(pattern, text):
                start = max(match.start() - 40, 0)
                problems.append(f"{name}: {text[start : match.end() + 40]!r}")
    missing = url_names() - seen - NOT_PAGES
    assert not missing, f"pages not checked: {sorted(missing)}"
    assert not problems, "\n".join(problems)
