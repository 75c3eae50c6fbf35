"""The idempotency machinery itself: template tag, refusals, expiry, purge, lock waits."""

import threading
import uuid
from datetime import timedelta

import pytest
from django import forms
from django.conf import settings
from django.db import connection, transaction
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from contactcenter import idempotency
from contactcenter.celery import app as celery_app
from contactcenter.models import IdempotencyKey
from contactcenter.tasks import purge_idempotency_keys
from messaging.models import Event

TAG = Template("{% load idempotency %}{% idempotency_field form %}")


class BodyForm(forms.Form):
    body = forms.CharField()


def render_tag(request, form) -> str:
    return TAG.render(Context({"request": request, "form": form}))


def key_of(html: str) -> str:
    return html.split('value="')[1].split('"')[0]


def test_tag_renders_a_fresh_uuid_each_time():
    request = RequestFactory().get("/")
    first, second = render_tag(request, BodyForm()), render_tag(request, BodyForm())
    assert first.startswith('<input type="hidden" name="idempotency_key" value="')
    assert key_of(first) != key_of(second)
    uuid.UUID(key_of(first))


def test_tag_keeps_the_posted_key_only_for_a_form_shown_again_with_errors():
    same = str(uuid.uuid4())
    request = RequestFactory().post("/", {"idempotency_key": same, "body": ""})
    invalid = BodyForm(request.POST)
    assert not invalid.is_valid()
    assert key_of(render_tag(request, invalid)) == same
    valid = BodyForm({"body": "ok"})
    assert valid.is_valid()
    assert key_of(render_tag(request, valid)) != same, "a success must not reuse a used key"
    assert key_of(render_tag(request, BodyForm())) != same, "another form of the page"


def test_tag_ignores_a_malformed_posted_key_and_escapes_a_valid_one():
    request = RequestFactory().post("/", {"idempotency_key": "a b", "body": ""})
    form = BodyForm(request.POST)
    form.is_valid()
    uuid.UUID(key_of(render_tag(request, form)))
    request = RequestFactory().post("/", {"idempotency_key": '"><script>', "body": ""})
    form = BodyForm(request.POST)
    form.is_valid()
    html = render_tag(request, form)
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("value", ["", "a b", "é", "x" * 256])
def test_invalid_keys(value):
    assert not idempotency.valid_key(value)


def test_fingerprint_depends_on_path_fields_and_file_bytes():
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.http import QueryDict
    from django.utils.datastructures import MultiValueDict

    data = QueryDict("b=2&a=1&idempotency_key=k1&csrfmiddlewaretoken=t1")
    same = QueryDict("a=1&b=2&idempotency_key=k2&csrfmiddlewaretoken=t2")
    assert idempotency.fingerprint("/x/", data) == idempotency.fingerprint("/x/", same)
    assert idempotency.fingerprint("/x/", data) != idempotency.fingerprint("/y/", data)
    assert idempotency.fingerprint("/x/", data) != idempotency.fingerprint(
        "/x/", QueryDict("a=1&b=3")
    )

    def files(content):
        return MultiValueDict({"files": [SimpleUploadedFile("a.pdf", content)]})

    one, two = files(b"%PDF-1"), files(b"%PDF-2")
    assert idempotency.fingerprint("/x/", data, one) != idempotency.fingerprint("/x/", data, two)
    assert one["files"].read() == b"%PDF-1", "the file is rewound for the view"


@pytest.mark.django_db
def test_an_expired_key_no_longer_replays(client_as, citizen, case_a):
    url = reverse("messaging:case_reply", args=[case_a.reference])
    same = str(uuid.uuid4())
    client = client_as(citizen)
    client.post(url, {"body": "Premier envoi", "idempotency_key": same})
    IdempotencyKey.objects.update(created_at=timezone.now() - idempotency.TTL - timedelta(1))
    response = client.post(url, {"body": "Premier envoi", "idempotency_key": same})
    assert response.status_code == 302 and not response.has_header("Idempotent-Replayed")
    assert case_a.events.filter(body="Premier envoi").count() == 2


@pytest.mark.django_db
def test_purge_task_deletes_old_keys_only(citizen):
    old = IdempotencyKey.objects.create(
        user=citizen,
        scope="s",
        key="old",
        fingerprint="f",
        created_at=timezone.now() - idempotency.TTL - timedelta(minutes=1),
    )
    recent = IdempotencyKey.objects.create(user=citizen, scope="s", key="new", fingerprint="f")
    assert purge_idempotency_keys() == 1
    assert not IdempotencyKey.objects.filter(pk=old.pk).exists()
    assert IdempotencyKey.objects.filter(pk=recent.pk).exists()


def test_purge_runs_on_celery_beat():
    tasks = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert "contactcenter.tasks.purge_idempotency_keys" in tasks


@pytest.mark.django_db
def test_htmx_refusal_is_an_alert_fragment(client_as, citizen, case_a):
    url = reverse("messaging:case_reply", args=[case_a.reference])
    response = client_as(citizen).post(
        url, {"body": "x", "idempotency_key": "a b"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-idempotency-error="idempotency_key_invalid"' in page
    assert "<html" not in page
    assert not case_a.events.filter(type=Event.Type.MESSAGE, body="x").exists()


@pytest.mark.postgres
@pytest.mark.skipif(not settings.USING_POSTGRES, reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_waits_for_the_first_then_gets_a_409(monkeypatch, citizen, case_a, client_as):
    """A request still running holds the key: a duplicate polls, then gives up with a 409."""
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
    same = str(uuid.uuid4())
    record = IdempotencyKey.objects.create(
        user=citizen, scope="messaging.views.case_reply", key=same, fingerprint="x"
    )
    locked, release = threading.Event(), threading.Event()

    def first_request_still_running():
        try:
            with transaction.atomic():
                IdempotencyKey.objects.select_for_update().get(pk=record.pk)
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=first_request_still_running)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        url = reverse("messaging:case_reply", args=[case_a.reference])
        response = client_as(citizen).post(url, {"body": "Doublon", "idempotency_key": same})
    finally:
        release.set()
        holder.join(timeout=10)
    assert response.status_code == 409
    assert "Une requête identique est encore en cours de traitement" in (
        response.content.decode().replace("&#x27;", "'")
    )
    assert not case_a.events.filter(body="Doublon").exists()
