"""Tasks are queued after commit, with one idiom: ``delay_on_commit``/``apply_async_on_commit``."""

import logging
import re
from pathlib import Path

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from messaging.models import Notification
from messaging.receivers import on_citizen_notification
from messaging.tasks import send_notification
from routing import engine, presence, publish
from routing import tasks as routing_tasks
from routing.models import AgentPresence

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = (
    "contactcenter",
    "routing",
    "messaging",
    "chat",
    "cobrowse",
    "knowledge",
    "console",
    "mail",
    "visio",
)


QUEUE_NOW = "_task(name).delay(*args)"  # routing.publish.queue_task_now


class Boom(Exception):
    pass


@pytest.fixture
def filled(monkeypatch):
    """Agents the ``assign_agent`` task ran for (eager in tests)."""
    seen: list[int] = []

    def fill_pass(agent_id):
        seen.append(agent_id)
        return [], False

    monkeypatch.setattr(engine, "fill_pass", fill_pass)
    return seen


def test_task_queued_in_a_rolled_back_transaction_never_runs(
    agent_a, supervisor, filled, django_capture_on_commit_callbacks
):
    AgentPresence.objects.create(user=agent_a)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Boom),
        transaction.atomic(),
    ):
        presence.set_status(agent_a, AgentPresence.Status.AVAILABLE)
        assert filled == []  # not before commit
        raise Boom
    assert filled == [] and callbacks == []


def test_task_queued_in_a_transaction_runs_once_after_commit(
    agent_a, filled, django_capture_on_commit_callbacks
):
    AgentPresence.objects.create(user=agent_a)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        presence.set_status(agent_a, AgentPresence.Status.AVAILABLE)
        assert filled == []
    assert filled == [agent_a.pk]


def test_broker_down_after_commit_is_logged_not_raised(
    case_a, citizen, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(send_notification, "apply_async", broker_down)
    with (
        caplog.at_level(logging.ERROR, logger="contactcenter.tasks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        ids = on_citizen_notification(
            sender=None, citizen_id=citizen.pk, case_id=case_a.pk, kind="new_message"
        )
    # The row is committed and stays pending for the outbox sweep; the caller did not fail.
    assert ids and Notification.objects.get(pk=ids[0]).status == Notification.Status.PENDING
    assert "could not queue messaging.tasks.send_notification" in caplog.text


def test_routing_task_lookup_by_name_queues_after_commit(
    agent_a, filled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish.queue_task("assign_agent", agent_a.pk)
    assert filled == [] and len(callbacks) == 1
    callbacks[0]()
    assert filled == [agent_a.pk]
    assert hasattr(routing_tasks.assign_agent, "apply_async_on_commit")


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_tasks_are_queued_with_the_on_commit_idiom_only():
    """Outside a task body (``tasks.py``, which runs outside any transaction), a task is queued
    with ``delay_on_commit``/``apply_async_on_commit``, never ``delay``/``apply_async``. One
    exception: ``routing.publish.queue_task_now``, called only from task bodies and from
    after-commit callbacks (the debounced availability refresh)."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _modules()
        if path.name not in ("tasks.py", "celery.py")  # task bodies; the idiom itself
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.(delay|apply_async)\(", line) and QUEUE_NOW not in line
    ]
    assert offenders == []
