"""Settings helpers read from the environment: precise errors for bad values."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from contactcenter.settings import gc_threshold, redis_channel_layer, session_engine


def test_gc_threshold_parses_generations_or_keeps_python_defaults():
    assert gc_threshold("50000,20,20") == (50000, 20, 20)
    assert gc_threshold("1000") == (1000,)
    assert gc_threshold("python") is None
    assert gc_threshold("") is None


@pytest.mark.parametrize("value", ["a,b", "1,2,3,4", "-1,10,10", ","])
def test_gc_threshold_refuses_malformed_values(value):
    with pytest.raises(ImproperlyConfigured, match="GC_THRESHOLD"):
        gc_threshold(value)


def test_asgi_process_applies_the_threshold(settings):
    import gc
    import importlib

    import contactcenter.asgi

    before = gc.get_threshold()
    settings.GC_THRESHOLD = (40000, 15, 15)
    try:
        importlib.reload(contactcenter.asgi)
        assert gc.get_threshold() == (40000, 15, 15)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_channel_layer_kind_is_checked():
    assert redis_channel_layer("redis://r:6379/0", "p")["BACKEND"].endswith(
        "RedisPubSubChannelLayer"
    )
    assert redis_channel_layer("redis://r:6379/0", "p", "list")["BACKEND"].endswith(
        "core.RedisChannelLayer"
    )
    with pytest.raises(ImproperlyConfigured, match="CHANNEL_LAYER"):
        redis_channel_layer("redis://r:6379/0", "p", "kafka")


def test_sessions_are_cached_only_in_a_shared_cache():
    assert session_engine("redis://r:6379/0").endswith("cached_db")
    assert session_engine("") == "django.contrib.sessions.backends.db"


def test_sqlite_transactions_take_the_write_lock_at_once():
    # A deferred transaction that reads, then writes while another connection writes, fails
    # at once with "database is locked" instead of waiting for the busy timeout.
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    assert connection.settings_dict["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert connection.settings_dict["OPTIONS"]["timeout"] >= 5
