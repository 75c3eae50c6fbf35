"""Test override: fast hashing, in-memory mail, eager Celery, a throw-away private media root."""

import os
import tempfile
from pathlib import Path

from .settings import *  # noqa: F403
from .settings import REDIS_URL, redis_channel_layer

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = False
# No quiet hours by default: tests of SMS alerts must not depend on the time they run at
# (tests/messaging/test_quiet_hours.py sets them, with a frozen clock).
GUICHET_SMS_QUIET_START = GUICHET_SMS_QUIET_END = 0
# A server process started by a test (the voice server) and the test's ``manage.py shell``
# share one media root through GUICHET_TEST_MEDIA_ROOT.
MEDIA_ROOT = Path(
    os.environ.get("GUICHET_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="guichet-test-media-")
)
WHITENOISE_AUTOREFRESH = True
# Tests of the Redis cache/channel layer opt in explicitly; the default suite keeps them isolated.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if REDIS_URL:
    # The production layer (CHANNEL_LAYER picks it, as in production), one prefix per xdist worker.
    CHANNEL_LAYERS = {
        "default": redis_channel_layer(
            REDIS_URL,
            "guichet-test-" + os.environ.get("PYTEST_XDIST_WORKER", "main"),
            os.environ.get("CHANNEL_LAYER", "pubsub"),
        )
    }
# The tests load the forum's NER model when they need it (once per process).
COMMUNITY_NER_PRELOAD = False
