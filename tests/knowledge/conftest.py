"""Knowledge-app fixtures: the reference knowledge base imported into the test database."""

from pathlib import Path

import pytest
from django.core.management import call_command

from knowledge import engine

KB_PATH = Path(__file__).resolve().parents[2] / "contactcenter" / "demo_data" / "faq.json"


@pytest.fixture(autouse=True)
def _fresh_engine():
    """Every test starts with the engine rebuilt from its own database."""
    engine.reset_engine()
    yield
    engine.reset_engine()


@pytest.fixture
def kb(db):
    """The 50-article reference knowledge base (topics attached to a default service)."""
    call_command("import_kb", str(KB_PATH), verbosity=0)
    return KB_PATH


@pytest.fixture
def kb_with_personas(topic_a, topic_b, kb):
    """The KB on top of the shared personas: "impots" belongs to service A, "sante" to B."""
    return kb


@pytest.fixture
def citizen_client(citizen, client_as, kb_with_personas):
    """A citizen's logged-in client, on top of the KB."""
    return client_as(citizen)


@pytest.fixture(autouse=True)
def chatbot_rate(monkeypatch):
    """No throttling by default (tests post many messages); ``chatbot_rate("3/min")`` sets one.

    DRF binds THROTTLE_RATES when the class is defined, so the class attribute is patched.
    """
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()

    def set_rate(rate: str):
        monkeypatch.setattr(
            ScopedRateThrottle,
            "THROTTLE_RATES",
            {**ScopedRateThrottle.THROTTLE_RATES, "chatbot": rate},
        )

    set_rate("10000/min")
    yield set_rate
    cache.clear()
