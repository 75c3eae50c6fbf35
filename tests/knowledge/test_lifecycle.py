import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from knowledge import services, tasks
from knowledge.models import Article, Conversation, Turn


@pytest.mark.django_db
def test_expired_articles_are_unpublished_once(kb):
    today = timezone.localdate()
    Article.objects.filter(slug="ceam").update(expiry_date=today)
    Article.objects.filter(slug="passeport-demande").update(
        expiry_date=today + dt.timedelta(days=1)
    )
    assert len(services.unpublish_expired()) == 1
    assert Article.objects.get(slug="ceam").status == "archived"
    assert Article.objects.get(slug="passeport-demande").status == "published"
    assert services.unpublish_expired() == []  # idempotent


@pytest.mark.django_db
def test_review_alert_goes_to_owner_supervisors_once(supervisor, kb_with_personas, settings):
    settings.SITE_URL = "https://guichet.example.fr"
    past = timezone.localdate() - dt.timedelta(days=1)
    Article.objects.filter(slug__in=["payer-impot", "consulter-avis-imposition"]).update(
        review_date=past
    )
    assert services.alert_review_due() == 2
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["superviseur@guichet.example.fr"]
    assert "2 article(s) à revoir" in message.subject
    assert "Payer son impôt" in message.body
    assert "https://guichet.example.fr/console/connaissances/a-revoir/" in message.body
    assert services.alert_review_due() == 0  # already alerted for this review date
    assert len(mail.outbox) == 1
    # a new review date means a new alert
    Article.objects.filter(slug="payer-impot").update(review_date=timezone.localdate())
    assert services.alert_review_due() == 1


@pytest.mark.django_db
def test_lifecycle_task_runs_both_steps(kb):
    Article.objects.filter(slug="ceam").update(expiry_date=timezone.localdate())
    result = tasks.run_lifecycle.delay().get()
    assert result["unpublished"] == 1


@pytest.mark.django_db
def test_old_conversations_are_purged_after_retention(citizen, settings, kb):
    settings.KNOWLEDGE_CONVERSATION_RETENTION_DAYS = 30
    old = Conversation.objects.create(user=citizen)
    Turn.objects.create(conversation=old, seq=1, question="q", outcome="dont_know")
    Conversation.objects.filter(pk=old.pk).update(
        last_activity_at=timezone.now() - dt.timedelta(days=31)
    )
    recent = Conversation.objects.create(user=citizen)
    assert tasks.purge_conversations.delay().get() == 1
    assert list(Conversation.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Turn.objects.filter(conversation_id=old.pk).exists()
    assert services.purge_conversations() == 0


def test_beat_schedule_registers_the_knowledge_tasks():
    from contactcenter.celery import app

    tasks_by_name = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"knowledge.tasks.run_lifecycle", "knowledge.tasks.purge_conversations"} <= tasks_by_name
