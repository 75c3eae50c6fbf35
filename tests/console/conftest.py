"""Console fixtures on top of the shared personas (tests/conftest.py)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contactcenter.models import Case, Event, Service, Topic
from contactcenter.services import add_event, open_case
from tests.conftest import make_staff, make_user


def new_case(
    citizen,
    topic,
    *,
    subject="Question",
    channel="web",
    kind="question",
    age=None,
    sla_in=None,
    status=None,
    assigned_to=None,
):
    """A case with its first message; optionally aged, with a deadline, status or owner."""
    case, _event = open_case(
        citizen=citizen,
        topic=topic,
        kind=kind,
        channel=channel,
        subject=subject,
        body=f"{subject} : détails de la demande.",
        route=False,
    )
    changes = {}
    if age is not None:
        changes["created_at"] = timezone.now() - age
    if sla_in is not None:
        changes["sla_deadline"] = timezone.now() + sla_in
    if status is not None:
        changes["status"] = status
    if assigned_to is not None:
        changes["assigned_to"] = assigned_to
        changes["assigned_at"] = timezone.now()
        changes.setdefault("status", Case.Status.ASSIGNED)
    if changes:
        Case.objects.filter(pk=case.pk).update(**changes)
        case.refresh_from_db()
    return case


@pytest.fixture
def make_case():
    return new_case


@pytest.fixture
def agent_a2(service_a, skill_a):
    return make_staff(
        "agent.a2@guichet.example.fr", "agent", [service_a], [skill_a], first="Arthur"
    )


@pytest.fixture
def supervisor_b(service_b):
    return make_staff(
        "superviseur.b@guichet.example.fr", "supervisor", [service_b], first="Bérénice"
    )


@pytest.fixture
def inactive_service(db):
    return Service.objects.create(code="ancien", name="Ancien service", is_active=False)


@pytest.fixture
def topic_a2(service_a):
    return Topic.objects.create(slug="titres", title="Titres", service=service_a, position=2)


@pytest.fixture
def citizen3(db):
    return make_user(
        "aicha.benali@example.fr",
        "citizen",
        first="Aïcha",
        last="Benali",
        tax_number="1234567890123",
        social_number="284127512345678",
    )


def contact_events(citizen, count, case, *, start=None, channel="phone", actor=None):
    """``count`` contact events on ``case``, one minute apart, oldest first."""
    start = start or timezone.now() - timedelta(days=30)
    return [
        add_event(
            case,
            Event.Type.CONTACT,
            actor=actor,
            channel=channel,
            body=f"Contact n° {i}",
            at=start + timedelta(minutes=i),
            touch=False,
        )
        for i in range(count)
    ]


@pytest.fixture
def pdf_upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    from messaging.demo import simple_pdf

    def make(name="piece.pdf"):
        return SimpleUploadedFile(
            name, simple_pdf(["Justificatif"]), content_type="application/pdf"
        )

    return make
