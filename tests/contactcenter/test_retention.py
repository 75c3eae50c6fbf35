"""Retention of personal data (contactcenter/retention.py): each kind past its duration is
deleted or anonymised, statistics are unchanged, the purge is idempotent and resumes after a
crash, and ``purge_expired --dry-run`` lists without touching anything. SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from axes.models import AccessLog
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from chat.models import ChatAttachment, ChatMessage, Conversation
from cobrowse.models import CobrowseSession
from console import kpis
from contactcenter import retention
from contactcenter.models import AuditLog, Case, Event, Satisfaction
from mail.models import Mailbox, MailMessage
from messaging import services as messaging
from messaging.models import Attachment, Notification
from tests.upload_samples import upload, valid_pdf
from voice.models import Call

pytestmark = pytest.mark.django_db(transaction=False)

SECRET = "Mon numéro fiscal est 1234567890123, je vis au 12 rue des Lilas"
OLD = timedelta(days=800)  # past every default duration


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def shift(obj: Any, delta: timedelta, *fields: str) -> None:
    type(obj)._default_manager.filter(pk=obj.pk).update(
        **{name: getattr(obj, name) - delta for name in fields if getattr(obj, name)}
    )


def closed_request(citizen, agent, topic, *, age: timedelta) -> Case:
    """A web request with a file, answered and closed, every date moved ``age`` back."""
    case = messaging.create_request(
        citizen,
        topic,
        Case.Kind.QUESTION,
        "Déménagement de Mme Martin",
        SECRET,
        files=[upload("avis.pdf", valid_pdf())],
    )
    messaging.post_agent_reply(case, agent, "Réponse personnelle à Mme Martin")
    messaging.close_case(Case.objects.get(pk=case.pk), agent, Case.Resolution.ANSWERED)
    case.refresh_from_db()
    shift(case, age, "created_at", "closed_at", "last_activity_at", "first_response_at")
    shift(case, age, "assigned_at")
    for event in case.events.all():
        shift(event, age, "created_at")
    Satisfaction.objects.create(
        case=case,
        citizen=citizen,
        service=case.service,
        channel=case.channel,
        score=4,
        comment="Merci à Mme Durand",
        created_at=timezone.now() - age,
    )
    return Case.objects.get(pk=case.pk)


def ended_chat(citizen, agent, case: Case, *, age: timedelta) -> Conversation:
    ended = timezone.now() - age
    conversation = Conversation.objects.create(
        case=case, citizen=citizen, agent=agent, status="ended", created_at=ended, ended_at=ended
    )
    for seq, (kind, sender) in enumerate([("citizen", citizen), ("agent", agent)], start=1):
        message = ChatMessage.objects.create(
            conversation=conversation,
            seq=seq,
            client_id=f"c{seq}",
            kind=kind,
            sender=sender,
            body=SECRET,
            created_at=ended,
        )
    attachment = ChatAttachment(
        message=message,
        original_name="rib.pdf",
        content_type="application/pdf",
        size=4,
        sha256="0" * 64,
    )
    attachment.file.save("rib.pdf", ContentFile(b"%PDF"), save=True)
    return conversation


@pytest.fixture
def old_data(citizen, agent_a, topic_a, admin_user):
    old = closed_request(citizen, agent_a, topic_a, age=OLD)
    recent = closed_request(citizen, agent_a, topic_a, age=timedelta(days=10))
    chat = ended_chat(citizen, agent_a, old, age=OLD)
    call = Call.objects.create(sip_call_id="x1", caller="+33612345678", ended_at=timezone.now())
    shift(call, OLD, "started_at", "ended_at")
    session = CobrowseSession.objects.create(
        citizen=citizen, agent=agent_a, origin="code", status="ended", pages=["/espace/"]
    )
    shift(session, OLD, "created_at")
    audit = AuditLog.objects.create(actor=agent_a, citizen=citizen, case=old, action="view_case")
    shift(audit, OLD, "created_at")
    login = AccessLog.objects.create(username=citizen.email, ip_address="192.0.2.7")
    shift(login, OLD, "attempt_time")
    for case, age in ((old, OLD), (recent, timedelta(days=10))):
        Notification.objects.create(
            recipient=citizen,
            case=case,
            channel="email",
            kind="answer",
            address=citizen.email,
            text="Une réponse vous attend",
            idempotency_key=f"n{case.pk}",
            status="sent",
            created_at=timezone.now() - age,
        )
    mailbox = Mailbox.objects.create(
        service=topic_a.service,
        default_topic=topic_a,
        address="impots@example.fr",
        host="127.0.0.1",
        login="x",
    )
    mail = MailMessage.objects.create(
        mailbox=mailbox,
        direction="in",
        status="imported",
        key="k1",
        sender=citizen.email,
        subject="Mme Martin",
        body=SECRET,
        raw=SECRET.encode(),
        case=old,
        created_at=timezone.now() - OLD,
    )
    return {
        "old": old,
        "recent": recent,
        "chat": chat,
        "call": call,
        "session": session,
        "audit": audit,
        "login": login,
        "mail": mail,
    }


def figures(start, end):
    return sorted(
        (row.service_id, row.topic_id, row.channel, row.metric, row.value)
        for row in kpis.compute_rows(start, end)
    )


def test_purge_anonymises_or_deletes_each_kind_and_keeps_the_statistics(old_data, citizen):
    old, recent = old_data["old"], old_data["recent"]
    window = (old.created_at - timedelta(days=1), old.closed_at + timedelta(days=1))
    before = figures(*window)
    assert before  # the old case is counted
    files = [a.file.path for a in Attachment.objects.filter(case=old)]
    files += [a.file.path for a in ChatAttachment.objects.all()]
    cases_before, events_before = Case.objects.count(), Event.objects.count()

    outcomes = {o.kind.name: o.count for o in retention.purge_expired()}

    assert outcomes["case_messages"] == 1
    assert outcomes["attachments"] == 1
    assert outcomes["chat_transcripts"] == 1
    assert outcomes["call_records"] == 1
    assert outcomes["cobrowse_sessions"] == 1
    assert outcomes["audit_log"] == 1
    assert outcomes["login_history"] == 1
    assert outcomes["emails"] == 1
    assert outcomes["notifications"] == 1
    # Statistics: same rows, same figures.
    assert figures(*window) == before
    assert (Case.objects.count(), Event.objects.count()) == (cases_before, events_before)
    # The old case lost its text and files, the recent one kept them.
    old.refresh_from_db()
    assert old.subject == "" and old.status == "closed"
    assert not old.events.exclude(body="").exists()
    assert not Satisfaction.objects.filter(case=old).exclude(comment="").exists()
    assert not Attachment.objects.filter(case=old).exists()
    assert not any(os.path.exists(path) for path in files)
    assert recent.events.filter(body=SECRET).exists()
    assert Attachment.objects.filter(case=recent).exists()
    assert ChatMessage.objects.filter(conversation=old_data["chat"]).count() == 2
    assert not ChatMessage.objects.exclude(body="").exists()
    assert Call.objects.get(pk=old_data["call"].pk).caller == ""
    assert CobrowseSession.objects.get(pk=old_data["session"].pk).pages == []
    assert not AuditLog.objects.filter(pk=old_data["audit"].pk).exists()
    assert not AccessLog.objects.filter(pk=old_data["login"].pk).exists()
    mail = MailMessage.objects.get(pk=old_data["mail"].pk)
    assert (mail.body, mail.sender, mail.subject, bytes(mail.raw)) == ("", "", "", b"")
    assert not Notification.objects.filter(case=old).exclude(address="").exists()
    assert Notification.objects.filter(case=recent).exclude(address="").exists()
    # Idempotent: nothing left to do.
    assert not any(o.count for o in retention.purge_expired())


def test_a_crash_mid_purge_keeps_the_committed_batches_and_the_next_run_finishes(
    old_data, citizen, agent_a, topic_a, monkeypatch
):
    for _ in range(2):
        closed_request(citizen, agent_a, topic_a, age=OLD)
    kind = retention._registry["case_messages"]
    calls = []

    def crash_on_second_batch(cases):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        original(cases)

    original = kind.purge
    monkeypatch.setitem(
        retention._registry,
        "case_messages",
        retention.Kind(**{**kind.__dict__, "purge": crash_on_second_batch}),
    )
    with pytest.raises(RuntimeError):
        retention.purge_expired(only=["case_messages"], batch=1)
    cutoff = timezone.now() - timedelta(days=730)
    assert kind.candidates(cutoff).count() == 2  # the first batch stayed committed, 2 left
    monkeypatch.setitem(retention._registry, "case_messages", kind)
    [outcome] = retention.purge_expired(only=["case_messages"], batch=1)
    assert outcome.count == 2
    assert not kind.candidates(cutoff).exists()
    assert (
        not Event.objects.filter(case__status="closed", body=SECRET)
        .exclude(case__closed_at__gte=cutoff)
        .exists()
    )


def test_a_kind_whose_purge_leaves_its_rows_stops_instead_of_looping(old_data, monkeypatch):
    kind = retention._registry["audit_log"]
    stuck = retention.Kind(**{**kind.__dict__, "purge": lambda rows: None})
    monkeypatch.setitem(retention._registry, "audit_log", stuck)
    [outcome] = retention.purge_expired(only=["audit_log"])
    assert outcome.count == 0
    assert AuditLog.objects.filter(pk=old_data["audit"].pk).exists()


def test_durations_come_from_settings_and_zero_keeps_forever(old_data, settings):
    settings.GUICHET_RETENTION_DAYS = {
        **settings.GUICHET_RETENTION_DAYS,
        "audit_log": 0,
        "case_messages": 900,
    }
    outcomes = {o.kind.name: o for o in retention.purge_expired()}
    assert outcomes["audit_log"].cutoff is None and outcomes["audit_log"].count == 0
    assert outcomes["case_messages"].count == 0  # 800 days old, kept 900
    assert AuditLog.objects.filter(pk=old_data["audit"].pk).exists()
    assert Case.objects.get(pk=old_data["old"].pk).subject != ""


def test_dry_run_lists_per_kind_and_changes_nothing(old_data):
    out = StringIO()
    call_command("purge_expired", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "case_messages: 1 à anonymiser" in text
    assert old_data["old"].reference in text
    assert old_data["recent"].reference not in text
    assert "login_history: 1 à supprimer" in text
    assert "attachments: 1 à supprimer" in text
    assert SECRET not in text and "Martin" not in text  # no personal data in the listing
    assert Case.objects.get(pk=old_data["old"].pk).subject == "Déménagement de Mme Martin"
    assert AuditLog.objects.filter(pk=old_data["audit"].pk).exists()
    out = StringIO()
    call_command("purge_expired", "--kind", "audit_log", stdout=out)
    assert "audit_log: 1 supprimé(s)" in out.getvalue()
    assert not AuditLog.objects.filter(pk=old_data["audit"].pk).exists()
    assert Case.objects.get(pk=old_data["old"].pk).subject != ""  # other kinds untouched


def test_every_kind_has_a_documented_default(settings):
    names = {kind.name for kind in retention.kinds()}
    assert names == set(settings.GUICHET_RETENTION_DEFAULTS)
    doc = (settings.BASE_DIR / "docs" / "operations.md").read_text(encoding="utf-8")
    for name in names:
        assert f"GUICHET_RETENTION_{name.upper()}_DAYS" in doc


def test_the_nightly_task_is_scheduled():
    from contactcenter.celery import app

    entry = app.conf.beat_schedule["contactcenter-purge-expired-data"]
    assert entry["task"] == "contactcenter.tasks.purge_expired_data"
