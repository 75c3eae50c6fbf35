"""Shared personas: a citizen, a second citizen, an agent of service A, an agent of service B,
a supervisor of service A, an admin. Every test module uses these rather than its own."""

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from contactcenter.models import AgentProfile, Case, Service, Skill, Topic, User
from contactcenter.services import open_case
from tests import backend_phases
from tests.db_template import use_template


def pytest_collection_modifyitems(config, items):
    backend_phases.pytest_collection_modifyitems(config, items)
    long_tests_first(items)


def long_tests_first(items):
    """Tests that declare a longer timeout (the leave-one-out evaluation, real phone calls, the
    production stack) start first: xdist hands out tests in this order as workers free up, so a
    long test started last would end its phase alone on one CPU."""

    def declared(item) -> float:
        mark = item.get_closest_marker("timeout")
        return float(mark.args[0]) if mark is not None and mark.args else 0.0

    items.sort(key=lambda item: -declared(item))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """pytest-django's (one test database per xdist worker), each copied from the template that
    ``bin/test`` migrates for this run on PostgreSQL, once it is ready (tests/db_template.py)."""
    use_template()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The local-memory cache outlives a test (availability snapshot, rate limits): reset it."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """One channel layer instance per test: each async test runs on its own event loop, and a
    channels_redis layer keeps locks and pools bound to the loop that first used it."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language (French). Django keeps the active
    language per thread, and a request in English (LocaleMiddleware activates the user's
    language and leaves it active) would otherwise leak into the next test on that worker."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture
def service_a(db):
    return Service.objects.create(code="sip", name="Service des impôts des particuliers")


@pytest.fixture
def service_b(db):
    return Service.objects.create(code="cpam", name="Caisse primaire d'assurance maladie")


@pytest.fixture
def skill_a(db):
    return Skill.objects.create(code="fiscalite", name="Fiscalité")


@pytest.fixture
def skill_b(db):
    return Skill.objects.create(code="sante", name="Santé")


@pytest.fixture
def topic_a(service_a, skill_a):
    return Topic.objects.create(slug="impots", title="Impôts", service=service_a, skill=skill_a)


@pytest.fixture
def topic_b(service_b, skill_b):
    return Topic.objects.create(slug="sante", title="Santé", service=service_b, skill=skill_b)


def make_user(email, role, first="Prénom", last="Nom", **extra):
    return User.objects.create_user(
        username=email,
        email=email,
        password="motdepasse-solide-2026",
        first_name=first,
        last_name=last,
        role=role,
        **extra,
    )


def make_staff(email, role, services, skills=(), first="Agent", last="Nom"):
    user = make_user(email, role, first=first, last=last)
    profile = AgentProfile.objects.create(user=user)
    profile.services.set(services)
    profile.skills.set(skills)
    return user


@pytest.fixture
def citizen(db):
    return make_user(
        "camille.martin@example.fr",
        User.Role.CITIZEN,
        first="Camille",
        last="Martin",
        mobile_phone="+33612345678",
    )


@pytest.fixture
def citizen2(db):
    return make_user("louis.bernard@example.fr", User.Role.CITIZEN, first="Louis", last="Bernard")


@pytest.fixture
def agent_a(service_a, skill_a):
    return make_staff(
        "agent.a@guichet.example.fr", User.Role.AGENT, [service_a], [skill_a], first="Alice"
    )


@pytest.fixture
def agent_b(service_b, skill_b):
    return make_staff(
        "agent.b@guichet.example.fr", User.Role.AGENT, [service_b], [skill_b], first="Bruno"
    )


@pytest.fixture
def supervisor(service_a):
    return make_staff(
        "superviseur@guichet.example.fr", User.Role.SUPERVISOR, [service_a], first="Sophie"
    )


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser(
        username="admin@guichet.example.fr",
        email="admin@guichet.example.fr",
        password="motdepasse-solide-2026",
        role=User.Role.ADMIN,
    )


@pytest.fixture
def case_a(citizen, topic_a):
    case, _event = open_case(
        citizen=citizen,
        topic=topic_a,
        kind=Case.Kind.QUESTION,
        channel="web",
        subject="Changement d'adresse",
        body="Bonjour, j'ai déménagé. Comment prévenir les impôts ?",
        route=False,
    )
    return case


@pytest.fixture
def case_b(citizen2, topic_b):
    case, _event = open_case(
        citizen=citizen2,
        topic=topic_b,
        kind=Case.Kind.CLAIM,
        channel="web",
        subject="Remboursement",
        body="Je n'ai pas reçu mon remboursement.",
        route=False,
    )
    return case


def session_cookie(user) -> str:
    """A logged-in session of ``user`` in the database; its key is the ``sessionid`` cookie."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None  # create() sets it
    return session.session_key


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_as():
    return client_for
