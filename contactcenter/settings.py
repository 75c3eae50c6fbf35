"""Guichet settings: one module, configured by environment variables only.

Embedded default (no variable set): SQLite file in ``var/``, in-memory channel layer,
Celery eager, mail to the console, SMS to the outbox log. Production: set
``GUICHET_ENV=production``, ``SECRET_KEY``, ``DATABASE_URL``, ``REDIS_URL``, ``ALLOWED_HOSTS``.
"""

import ipaddress
import mimetypes
import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from contactcenter.db_pool import pool_options
from contactcenter.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

# Some rrweb bundles ship as .cjs; browsers refuse scripts with a non-JS MIME type under nosniff.
mimetypes.add_type("text/javascript", ".cjs")
mimetypes.add_type("text/javascript", ".js")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


GUICHET_ENV = env_str("GUICHET_ENV", "development")
PRODUCTION = GUICHET_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else "dev-insecure-key-change-me-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "channels",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "oauth2_provider",
    "contactcenter",
    "routing",
    "knowledge",
    "messaging",
    "chat",
    "cobrowse",
    "accounts",
    "console",
    "voice",
    "mail",
    "demarches",
    "visio",
    "community",
    "simulators",
    "appointments",
]

MIDDLEWARE = [
    # First: /health/live and /health/ready for the balancer, before any redirect or host check.
    "contactcenter.health.HealthMiddleware",
    # X-Request-ID in and out, and on every log line of the request (contactcenter/logs.py).
    "contactcenter.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # PostgreSQL's pool: the request's connection first, or a 503 (contactcenter/db_pool.py).
    "contactcenter.db_pool.DatabasePoolMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "contactcenter.middleware.SlidingSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "contactcenter.middleware.SecurityHeadersMiddleware",
    # Last, as django-axes asks, so that it sees the authentication result.
    "axes.middleware.AxesMiddleware",
    # Domain errors of the services (contactcenter.exceptions) -> 404, 403, 409.
    "contactcenter.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
ASGI_APPLICATION = "contactcenter.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "contactcenter.context_processors.guichet",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {})
    # WAL + busy timeout: the ASGI server, Celery-eager work and the shell share one file.
    # Transactions begin IMMEDIATE (they take the write lock at once, waiting up to the
    # timeout): a deferred transaction that read first and then writes cannot wait for a
    # concurrent writer, SQLite fails it at once with "database is locked" (seen when a rating
    # was saved while the chat wrote its messages).
    DATABASES["default"]["OPTIONS"].update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
if env_str("TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DB_NAME")}
USING_POSTGRES = DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql")
if USING_POSTGRES:
    # Django's cursors bind parameters on the client and never prepare; the routing engine's
    # PostgreSQL statements (routing.engine_pg) ask psycopg to prepare them (``prepare=True``),
    # which needs a threshold that is not None. This one is never reached by anything else.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 1_000_000)
    # JIT off for every session: the contact centre's queries are short OLTP ones (and the
    # dashboard's aggregates are bounded by indexed time ranges) whose cost estimates may pass
    # ``jit_above_cost``; compiling them then takes longer (tens of ms) than running them.
    DATABASES["default"]["OPTIONS"].setdefault("options", "-c jit=off")
    # The connection budget: at most DB_POOL_MAX_SIZE connections per process, none kept per
    # thread (contactcenter/db_pool.py; docs/operations.md, "Database connections").
    DB_POOL = pool_options(os.environ, sys.argv)
    if DB_POOL:
        DATABASES["default"]["OPTIONS"]["pool"] = DB_POOL
    # Behind PgBouncer in transaction mode: no named cursors (.iterator()) across transactions.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DB_DISABLE_SERVER_SIDE_CURSORS")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "contactcenter.User"


# --- ASGI server process ------------------------------------------------------------------------
def session_engine(redis_url: str) -> str:
    """Sessions live in the database; with a shared cache (Redis) they are read from it and
    written through to the database (a Redis GET instead of a query on every request). Never
    over the per-process memory cache: a logout in one process would not reach the others."""
    if redis_url:
        return "django.contrib.sessions.backends.cached_db"
    return "django.contrib.sessions.backends.db"


def gc_threshold(value: str) -> tuple[int, ...] | None:
    """``GC_THRESHOLD``: the garbage collector's thresholds for ASGI processes, "g0,g1,g2"
    (``gc.set_threshold``), or "python" to keep Python's defaults (see contactcenter/asgi.py)."""
    if value.strip().lower() in ("", "python", "default"):
        return None
    try:
        parts = tuple(int(part) for part in value.split(","))
    except ValueError:
        parts = ()
    if not 1 <= len(parts) <= 3 or any(part < 0 for part in parts):
        raise ImproperlyConfigured(f'GC_THRESHOLD must be "g0,g1,g2" or "python" (got {value!r}).')
    return parts


GC_THRESHOLD = gc_threshold(env_str("GC_THRESHOLD", "50000,20,20"))

# Websockets (contactcenter/sockets.py, docs/realtime.md): frames and open sockets per person, by
# kind of socket, over the defaults of contactcenter.sockets.DEFAULT_LIMITS, e.g.
# {"chat": {"frames": 5, "per": 1.0, "connections": 30}}; and how often (60 s at most) an open
# socket checks that its login session is still valid.
WEBSOCKET_LIMITS: dict[str, dict[str, float]] = {}
WEBSOCKET_SESSION_RECHECK_SECONDS = env_int("WEBSOCKET_SESSION_RECHECK_SECONDS", 60)

# Chat messages from the sockets of one process are stored in batches (chat/writer.py): a flush
# this many milliseconds after the first message waiting, at most this many messages per
# transaction (1: one transaction per message).
CHAT_WRITE_DELAY_MS = env_int("CHAT_WRITE_DELAY_MS", 2)
CHAT_WRITE_BATCH_MAX = env_int("CHAT_WRITE_BATCH_MAX", 100)


def ice_servers() -> list[dict]:
    """Visio's STUN/TURN servers for the browsers (docs/visio.md): none by default (loopback and
    one LAN connect with host candidates)."""
    servers: list[dict] = []
    if stun := env_list("VISIO_STUN_URLS"):
        servers.append({"urls": stun})
    if turn := env_list("VISIO_TURN_URLS"):
        servers.append(
            {
                "urls": turn,
                "username": env_str("VISIO_TURN_USERNAME"),
                "credential": env_str("VISIO_TURN_PASSWORD"),
            }
        )
    return servers


VISIO_ICE_SERVERS = ice_servers()

# Topology (docs/operations.md): each readiness check's deadline in seconds; PROCESS_HEADER names
# the process that answered (``X-Guichet-Process``: GUICHET_PROCESS_NAME or host:pid) on every
# response and websocket handshake, for topology tests and debugging a balancer (off by default:
# it tells the outside how the service is laid out).
HEALTH_CHECK_TIMEOUT = float(env_str("HEALTH_CHECK_TIMEOUT", "3"))
PROCESS_HEADER = env_bool("PROCESS_HEADER", False)
# Prometheus (contactcenter/metrics.py): GET /metrics with "Authorization: Bearer <token>";
# without a token the endpoint does not exist (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# --- Redis: channel layer, Celery broker, cache --------------------------------------------------
REDIS_URL = env_str("REDIS_URL")

CHANNEL_LAYER_KINDS = ("pubsub", "list")


def redis_channel_layer(url: str, prefix: str, kind: str = "pubsub") -> dict:
    """The Redis channel layer settings (production, CI, the Redis tests and the benchmarks).

    ``pubsub`` (default): channels_redis' Pub/Sub layer, one PUBLISH per message pushed to the
    subscribed processes; it sustains a higher chat rate than the list layer (bench/RESULTS.md).
    Every chat message is stored before it is sent, so a message Redis drops (no subscriber at
    that instant) is replayed from the database by the client's sync.
    ``list``: channels_redis' list-based layer (per-channel lists and blocking pops), kept for
    deployments that want its per-channel capacity and expiry.
    """
    if kind not in CHANNEL_LAYER_KINDS:
        raise ImproperlyConfigured(
            f"CHANNEL_LAYER must be one of {', '.join(CHANNEL_LAYER_KINDS)} (got {kind!r})."
        )
    # redis-py 8 defaults reads to a 5 s timeout, the same as channels_redis' blocking receive:
    # without socket_timeout None, idle consumers die with TimeoutError.
    host = {"address": url, "socket_timeout": None}
    if kind == "pubsub":
        return {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [host], "prefix": prefix},
        }
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [host], "capacity": 1500, "expiry": 30, "prefix": prefix},
    }


if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": redis_channel_layer(
            REDIS_URL,
            env_str("CHANNEL_LAYER_PREFIX", "asgi"),
            env_str("CHANNEL_LAYER", "pubsub"),
        )
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "guichet"),
            # One pool per process, not one per asyncio context (each websocket kept its own
            # Redis connection): contactcenter/redis_pool.py.
            "OPTIONS": {"pool_class": "contactcenter.redis_pool.SharedConnectionPool"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # One process: its memory. CACHE_DIR shares the cache between the processes of one machine
    # without Redis (a server and a `manage.py` command that changes what it caches).
    CACHES = {
        "default": (
            {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": cache_dir,
            }
            if (cache_dir := env_str("CACHE_DIR", ""))
            else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "guichet"}
        )
    }

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
# The queue tasks go to and workers read (two deployments sharing one Redis keep apart).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "Europe/Paris"
CELERY_BEAT_SCHEDULE: dict = {}  # filled by apps in contactcenter/celery.py

# --- Auth, sessions, security ------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# ANSSI's recommendations on passwords (guide "Recommandations relatives à l'authentification
# multifacteur et aux mots de passe", 2021): at least 12 characters for an account with a second
# factor or a login rate limit (django-axes), no common or breached password (Django's list of
# 20,000), nothing close to the person's name or e-mail, not only digits. The French messages
# are Django's own (its French translation).
AUTH_PASSWORD_VALIDATORS = [
    {
        # The login is the e-mail address (username holds the same value): name it so.
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "first_name", "last_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Off unless PASSWORD_BREACH_RANGE_URL is set (docs/accounts.md).
    {"NAME": "accounts.passwords.BreachedPasswordValidator"},
]
# Pwned Passwords' k-anonymity range API (https://api.pwnedpasswords.com/range/), or a copy of
# it run inside the administration's network; empty: no request, only the rules above.
PASSWORD_BREACH_RANGE_URL = env_str("PASSWORD_BREACH_RANGE_URL", "")
PASSWORD_BREACH_TIMEOUT = float(env_str("PASSWORD_BREACH_TIMEOUT", "3"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Links sent by e-mail (accounts): password reset (Django's token) and address verification.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60)
ACCOUNT_VERIFICATION_MAX_AGE = env_int("ACCOUNT_VERIFICATION_MAX_AGE", 60 * 60 * 48)
# Sign-ups never verified are deleted after this many days (accounts.services.purge_unverified).
ACCOUNTS_UNVERIFIED_DAYS = env_int("ACCOUNTS_UNVERIFIED_DAYS", 7)
ACCOUNT_MAILS_PER_HOUR = env_int("ACCOUNT_MAILS_PER_HOUR", 5)  # per address (accounts/mail.py)
# Two-factor authentication (accounts/twofactor.py): a browser may be remembered for at most
# 12 hours after a second factor, and a half-done login (password given, code not yet) lasts
# 10 minutes.
TWO_FACTOR_REMEMBER_SECONDS = min(env_int("TWO_FACTOR_REMEMBER_SECONDS", 12 * 3600), 12 * 3600)
TWO_FACTOR_PENDING_SECONDS = 600
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Guichet")
# Passkeys (accounts/passkeys.py). The relying party id is the site's host name; the origins
# are those a passkey ceremony may come from. A passkey is bound to its RP id for good: set
# WEBAUTHN_RP_ID before anyone registers one. An IP address cannot be an RP id: with SITE_URL on
# 127.0.0.1 (development), passkeys work at http://localhost:<port>.
_SITE = urlsplit(SITE_URL)
_SITE_HOST = _SITE.hostname or "localhost"
try:
    ipaddress.ip_address(_SITE_HOST)
    _SITE_IS_IP = True
except ValueError:
    _SITE_IS_IP = False
WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", "localhost" if _SITE_IS_IP else _SITE_HOST)
WEBAUTHN_RP_NAME = env_str("WEBAUTHN_RP_NAME", "Guichet")
WEBAUTHN_ORIGINS = env_list(
    "WEBAUTHN_ORIGINS",
    f"{_SITE.scheme}://localhost{':' + str(_SITE.port) if _SITE.port else ''}"
    if _SITE_IS_IP
    else f"{_SITE.scheme}://{_SITE.netloc}",
)

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "contactcenter.views.axes_username"


# The client's address: X-Forwarded-For is believed only from these reverse proxies (addresses
# or networks, comma-separated); by default from nobody (contactcenter/client_ip.py).
def trusted_proxies(values: list[str]) -> list[str]:
    """``TRUSTED_PROXIES``: each entry must be an IP address or network ("10.0.0.0/8")."""
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {value!r} is not an IP address or network."
            ) from None
    return values


TRUSTED_PROXIES = trusted_proxies(env_list("TRUSTED_PROXIES"))
AXES_CLIENT_IP_CALLABLE = "contactcenter.client_ip.client_ip"

SESSION_ENGINE = session_engine(REDIS_URL)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 2)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Idle timeout of SESSION_COOKIE_AGE, refreshed at most once a minute (SlidingSessionMiddleware)
# rather than written on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_INTERVAL = env_int("SESSION_REFRESH_INTERVAL", 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads it from the meta tag, not the cookie
CSRF_FAILURE_VIEW = "contactcenter.errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["contactcenter.formats"]  # named date formats per language
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Static and private files -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/dsfr", NODE_MODULES / "@gouvfr" / "dsfr" / "dist"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/rrweb-record", NODE_MODULES / "@rrweb" / "record" / "dist"),
    ("vendor/rrweb-replay", NODE_MODULES / "@rrweb" / "replay" / "dist"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
    ("vendor/swagger-ui", NODE_MODULES / "swagger-ui-dist"),
]
if env_bool("GUICHET_E2E"):
    # Browser tests inject axe-core as a same-origin script, so the real CSP stays enforced.
    STATICFILES_DIRS.append(("vendor/axe", NODE_MODULES / "axe-core"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_MIMETYPES = {".cjs": "text/javascript", ".mjs": "text/javascript"}
WHITENOISE_AUTOREFRESH = DEBUG
# Attachments are never under a public URL: they are streamed by a view that checks permission.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "private")))
MEDIA_URL = None
DATA_UPLOAD_MAX_MEMORY_SIZE = 12 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Phone channel: the voice server (python manage.py voice_server, docs/voice.md).
VOICE_SIP_HOST = env_str("VOICE_SIP_HOST", "127.0.0.1")
VOICE_SIP_PORT = env_int("VOICE_SIP_PORT", 5062)
# Address written in SDP answers and Contact headers (the host's public address behind NAT).
VOICE_PUBLIC_HOST = env_str("VOICE_PUBLIC_HOST", VOICE_SIP_HOST)
VOICE_RTP_PORT_MIN = env_int("VOICE_RTP_PORT_MIN", 20000)
VOICE_RTP_PORT_MAX = env_int("VOICE_RTP_PORT_MAX", 20999)
# Registration to a SIP trunk or an IPBX (empty: no registration, calls come straight in).
VOICE_REGISTRAR = env_str("VOICE_REGISTRAR")
VOICE_SIP_USER = env_str("VOICE_SIP_USER")
VOICE_SIP_PASSWORD = env_str("VOICE_SIP_PASSWORD")
VOICE_REGISTER_EXPIRES = env_int("VOICE_REGISTER_EXPIRES", 300)
# Service answering calls whose dialled number matches no service's phone (its code).
VOICE_DEFAULT_SERVICE = env_str("VOICE_DEFAULT_SERVICE")
# E-mail channel (docs/mail.md): first delay before a failed answer is sent again (doubled at
# each attempt, 5 attempts).
MAIL_RETRY_DELAY = timedelta(seconds=env_int("MAIL_RETRY_DELAY", 60))
# E-mail channel loop protection: automatic messages (acknowledgements, notices) per address.
MAIL_AUTOMATIC_PER_SENDER = env_int("MAIL_AUTOMATIC_PER_SENDER", 5)
MAIL_AUTOMATIC_WINDOW = timedelta(seconds=env_int("MAIL_AUTOMATIC_WINDOW", 3600))
# E-mail: authserv-ids (RFC 8601, comma-separated) of our receiving mail servers, whose
# Authentication-Results alone are read; empty: no sender verified (docs/mail.md).
MAIL_AUTHSERV_ID = env_str("MAIL_AUTHSERV_ID")
# E-mail channel, inbound webhook of a provider that pushes (Mailgun's routes, raw MIME): off
# while no signing key is set; pushes older than MAIL_WEBHOOK_MAX_AGE seconds and bodies over
# MAIL_WEBHOOK_MAX_BYTES are refused (docs/mail.md).
MAIL_WEBHOOK_MAILGUN_SIGNING_KEY = env_str("MAIL_WEBHOOK_MAILGUN_SIGNING_KEY")
# Postmark's inbound webhook: the Basic credentials ("user:password") put in its URL; MailerSend's
# inbound route: its signing secret. Each endpoint answers 404 while its value is empty.
MAIL_WEBHOOK_POSTMARK_CREDENTIALS = env_str("MAIL_WEBHOOK_POSTMARK_CREDENTIALS")
MAIL_WEBHOOK_MAILERSEND_SECRET = env_str("MAIL_WEBHOOK_MAILERSEND_SECRET")
MAIL_WEBHOOK_MAX_AGE = env_int("MAIL_WEBHOOK_MAX_AGE", 8 * 3600)
MAIL_WEBHOOK_MAX_BYTES = env_int("MAIL_WEBHOOK_MAX_BYTES", 10 * 1024 * 1024)
VOICE_PROMPT_CACHE = Path(env_str("VOICE_PROMPT_CACHE", str(MEDIA_ROOT / "voice-prompts")))
VOICE_TTS_VOICE = env_str("VOICE_TTS_VOICE", "fr")
VOICE_TTS_SPEED = env_int("VOICE_TTS_SPEED", 150)
# Seconds without a key press before a menu is read again (twice), then the call ends.
VOICE_DIGIT_TIMEOUT = env_int("VOICE_DIGIT_TIMEOUT", 6)
# To an agent (key 0, voice.queueing): longest wait in the queue before the caller is offered a
# callback, seconds between the position announcements, seconds the agent's phone rings.
VOICE_MAX_WAIT = env_int("VOICE_MAX_WAIT", 300)
VOICE_WAIT_ANNOUNCE = env_int("VOICE_WAIT_ANNOUNCE", 30)
VOICE_AGENT_RING_TIMEOUT = env_int("VOICE_AGENT_RING_TIMEOUT", 20)

# --- Mail and SMS ---------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Guichet <ne-pas-repondre@guichet.example.fr>")
SMS_BACKEND = env_str("SMS_BACKEND", "messaging.transports.sms.OutboxLogSmsBackend")

# --- APIs ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.api_clients.ApiClientAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "contactcenter.api.GuichetAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 25,
    "EXCEPTION_HANDLER": "contactcenter.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "chatbot": env_str("GUICHET_CHATBOT_THROTTLE", "30/min"),
        "anon": "60/min",
        "api_client": env_str("GUICHET_API_CLIENT_THROTTLE", "600/min"),
    },
}
# Webhooks to API clients (docs/api.md, "Webhooks"). Outside production an endpoint may be
# plain http on a loopback address and private addresses are allowed (a receiver on the same
# machine); in production only https to public addresses, unless GUICHET_WEBHOOK_ALLOW_PRIVATE.
GUICHET_WEBHOOK_ALLOW_PRIVATE = env_bool("GUICHET_WEBHOOK_ALLOW_PRIVATE", not PRODUCTION)
GUICHET_WEBHOOK_ALLOW_HTTP_LOOPBACK = DEBUG or not PRODUCTION
GUICHET_WEBHOOK_TIMEOUT = env_int("GUICHET_WEBHOOK_TIMEOUT", 10)
GUICHET_WEBHOOK_RETENTION_DAYS = env_int("GUICHET_WEBHOOK_RETENTION_DAYS", 30)
# Failed attempts in a row after which an endpoint is disabled and the admins alerted (0: never).
GUICHET_WEBHOOK_DISABLE_AFTER = env_int("GUICHET_WEBHOOK_DISABLE_AFTER", 20)
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
# API clients (docs/api.md): OAuth2 client credentials only, hashed secrets, short tokens.
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("GUICHET_API_TOKEN_SECONDS", 3600),
    "SCOPES_BACKEND_CLASS": "accounts.api_clients.ClientScopesBackend",
    # RFC 9700 (OAuth 2.0 Security BCP): every compliant behaviour on (no implicit or password
    # grant, S256 PKCE only, tokens in the Authorization header only, hashed token storage,
    # refresh token replay protection, https redirect URIs only). Only client credentials are
    # used; the rest is closed by default.
    **{
        f"COMPLIANT_BCP_RFC9700_{name}": True
        for name in (
            "IMPLICIT_GRANT",
            "PASSWORD_GRANT",
            "PKCE_METHOD",
            "ACCESS_TOKEN_TRANSPORT",
            "AUTHZ_RESPONSE_ISS",
            "TOKEN_STORAGE",
            "REFRESH_TOKEN",
            "REDIRECT_URI_SCHEME",
            "REDIRECT_URI_MATCHING",
            "PKCE_REQUIRED",
        )
    },
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Guichet API",
    "DESCRIPTION": "API des usagers et des agents (mêmes permissions que les pages).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request and response bodies as separate components: read-only fields are not asked for.
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contactcenter.api.topic_slug_enum",
        "accounts.api_schema.webhooks_schema",
    ],
}
# The schema (/api/schema/) and its documentation page (/api/docs/): public in development,
# for logged-in users only in production unless API_DOCS_PUBLIC=1 (docs/operations.md).
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", not PRODUCTION)

# --- Logging ---------------------------------------------------------------------------------
# JSON lines in production (LOG_FORMAT=json|plain), request ids, personal data masked
# (contactcenter/logs.py, docs/operations.md "Logs").
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "plain")
LOGGING = logging_config(
    json_logs=LOG_FORMAT == "json",
    level=env_str("LOG_LEVEL", "INFO"),
    mask_personal_data=env_bool("LOG_MASK_PERSONAL_DATA", PRODUCTION),
)

# --- Guichet ---------------------------------------------------------------------------------
GUICHET_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
GUICHET_ATTACHMENT_MAX_COUNT = 5
GUICHET_MESSAGE_MAX_CHARS = 10_000
GUICHET_NOTIFICATION_MAX_ATTEMPTS = 5
# Quiet hours (Europe/Paris): no alert SMS from START o'clock to END o'clock; they wait for END.
GUICHET_SMS_QUIET_START = env_int("GUICHET_SMS_QUIET_START", 20)
GUICHET_SMS_QUIET_END = env_int("GUICHET_SMS_QUIET_END", 8)

# Retention of personal data (CNIL; contactcenter/retention.py, docs/operations.md): days
# after which the nightly purge deletes or anonymises each kind (0 keeps it forever), set by
# GUICHET_RETENTION_<KIND>_DAYS (e.g. GUICHET_RETENTION_CHAT_TRANSCRIPTS_DAYS=365).
GUICHET_RETENTION_DEFAULTS = {
    "case_messages": 730,  # after the case is closed
    "attachments": 730,  # after the case is closed
    "chat_transcripts": 365,  # after the chat ended
    "cobrowse_sessions": 180,
    "call_records": 365,
    "callbacks": 365,  # after the case is closed
    "emails": 730,
    "quarantined_emails": 90,
    "notifications": 365,
    "visio": 90,
    "audit_log": 365,
    "login_history": 180,
    "login_failures": 180,
}
GUICHET_RETENTION_DAYS = {
    kind: env_int(f"GUICHET_RETENTION_{kind.upper()}_DAYS", days)
    for kind, days in GUICHET_RETENTION_DEFAULTS.items()
}
GUICHET_RETENTION_BATCH = env_int("GUICHET_RETENTION_BATCH", 500)

# Supervisor dashboard (console.kpis, docs/dashboard.md). Other apps contribute indicators
# through functions named here by dotted path (imported when the dashboard renders, so that
# the console names no app in its code); the live queue tiles come from routing.
GUICHET_KPI_PROVIDERS = {
    "chatbot": "knowledge.kpi_providers.chatbot_kpis",
    "knowledge": "knowledge.kpi_providers.knowledge_base_kpis",
    "tutorials": "knowledge.kpi_providers.tutorial_kpis",
    "forum": "community.indicators.forum_kpis",
    "voice": "voice.indicators.voice_kpis",
    "appointments": "appointments.indicators.appointment_kpis",
    "traces": "contactcenter.trace_kpis.trace_kpis",
    "teams": "routing.team_kpis.team_kpis",
}
GUICHET_DASHBOARD_LIVE_PROVIDER = "routing.live_view"
GUICHET_KPI_BACKFILL_DAYS = env_int("GUICHET_KPI_BACKFILL_DAYS", 400)
GUICHET_KPI_FINAL_AFTER_HOURS = env_int("GUICHET_KPI_FINAL_AFTER_HOURS", 6)
GUICHET_KPI_PERCENTILE_SAMPLE = env_int("GUICHET_KPI_PERCENTILE_SAMPLE", 200_000)
GUICHET_KPI_LIVE_CACHE_SECONDS = env_int("GUICHET_KPI_LIVE_CACHE_SECONDS", 60)
# How old a page's snapshot may be shown while its refresh runs (console/kpis/snapshot.py).
GUICHET_KPI_SNAPSHOT_MAX_AGE = env_int("GUICHET_KPI_SNAPSHOT_MAX_AGE", 600)
GUICHET_EXPORT_MAX_ROWS = env_int("GUICHET_EXPORT_MAX_ROWS", 1_000_000)


# --- OpenID Connect: FranceConnect (citizens), ProConnect (staff) -----------------------------
# accounts/oidc.py, docs/oidc.md. A provider is on when its client id is set. Redirect URIs are
# built on SITE_URL: {SITE_URL}/compte/<provider>/retour/ and .../deconnecte/ after logout.
def oidc_provider(prefix: str, *, scopes: str, acr_values: str, two_factor: bool) -> dict | None:
    client_id = env_str(f"{prefix}_CLIENT_ID")
    if not client_id:
        return None
    discovery = env_str(f"{prefix}_DISCOVERY_URL")
    issuer = env_str(f"{prefix}_ISSUER").rstrip("/")
    if not discovery and issuer:
        discovery = f"{issuer}/.well-known/openid-configuration"
    endpoints = {
        key: env_str(f"{prefix}_{key.upper()}")
        for key in (
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        )
    }
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    if not discovery and not (issuer and all(endpoints[key] for key in needed)):
        raise ImproperlyConfigured(
            f"{prefix}: set {prefix}_DISCOVERY_URL or {prefix}_ISSUER, or the endpoints."
        )
    return {
        "client_id": client_id,
        "client_secret": env_str(f"{prefix}_CLIENT_SECRET"),
        # Discovery document, completed or overridden by explicit endpoints.
        "discovery_url": discovery,
        "issuer": issuer,
        "endpoints": {key: value for key, value in endpoints.items() if value},
        "scopes": env_str(f"{prefix}_SCOPES", scopes),
        "acr_values": env_str(f"{prefix}_ACR_VALUES", acr_values),
        "token_auth_method": env_str(f"{prefix}_TOKEN_AUTH_METHOD", "client_secret_post"),
        # The provider's login stands for the staff's second factor (accounts/twofactor.py).
        "two_factor": env_bool(f"{prefix}_COUNTS_AS_TWO_FACTOR", two_factor),
        # Match staff by e-mail only if the provider says it is verified (email_verified).
        "require_verified_email": env_bool(f"{prefix}_REQUIRE_EMAIL_VERIFIED", False),
        "id_token_algs": env_list(f"{prefix}_ID_TOKEN_ALGS", "RS256,ES256"),
        # Userinfo encrypted to us (JWE, FranceConnect v2 when the client registers a key):
        # our private key, a PEM or a JWK in JSON (its public half is registered with the
        # provider), and the key-management and content algorithms accepted.
        "decryption_key": env_str(f"{prefix}_DECRYPTION_KEY"),
        "decryption_algs": env_list(
            f"{prefix}_DECRYPTION_ALGS",
            "RSA-OAEP-256,RSA-OAEP,ECDH-ES,ECDH-ES+A128KW,ECDH-ES+A256KW,"
            "A128GCM,A256GCM,A128CBC-HS256,A256CBC-HS512",
        ),
        # The ID token too is encrypted to us (decrypted with the same key): one only signed
        # is then refused. Off: an encrypted ID token is still decrypted when it comes.
        "id_token_encrypted": env_bool(f"{prefix}_ID_TOKEN_ENCRYPTED", False),
    }


OIDC_PROVIDERS = {
    name: provider
    for name, provider in {
        "franceconnect": oidc_provider(
            "FRANCECONNECT",
            scopes="openid given_name family_name birthdate email",
            acr_values="eidas1",
            two_factor=False,
        ),
        "proconnect": oidc_provider(
            "PROCONNECT",
            scopes="openid email given_name usual_name uid",
            acr_values="",
            two_factor=True,
        ),
    }.items()
    if provider is not None
}
OIDC_METADATA_CACHE_SECONDS = env_int("OIDC_METADATA_CACHE_SECONDS", 3600)


def url_origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


# The Content Security Policy's form-action also names the providers: the login button and the
# logout form post to Guichet, which redirects to the provider (browsers check redirects too).
CSP_FORM_ACTION = sorted(
    {
        url_origin(url)
        for conf in OIDC_PROVIDERS.values()
        for url in (conf["discovery_url"], conf["issuer"], *conf["endpoints"].values())
    }
    - {""}
)

# Community forum (docs/community.md): the French named-entity model that finds people's names
# in posts (a Python package; empty: names not checked), loaded in the background when a server
# process starts (not by manage.py commands), the posting and reporting limits.
COMMUNITY_NER_MODEL = env_str("COMMUNITY_NER_MODEL", "fr_core_news_sm")
COMMUNITY_NER_PRELOAD = env_bool("COMMUNITY_NER_PRELOAD", True)
COMMUNITY_POSTS_PER_HOUR = env_int("COMMUNITY_POSTS_PER_HOUR", 10)
COMMUNITY_REPORTS_TO_HIDE = env_int("COMMUNITY_REPORTS_TO_HIDE", 3)

# Video tutorials of the knowledge base (docs/knowledge.md, "Video tutorials"): the largest
# uploaded file and duration, and the hosts whose video pages may be embedded instead (https).
GUICHET_TUTORIAL_MAX_BYTES = env_int("GUICHET_TUTORIAL_MAX_BYTES", 200_000_000)
GUICHET_TUTORIAL_MAX_SECONDS = env_int("GUICHET_TUTORIAL_MAX_SECONDS", 30 * 60)
GUICHET_TUTORIAL_EMBED_HOSTS = env_list(
    "GUICHET_TUTORIAL_EMBED_HOSTS",
    "www.dailymotion.com,geo.dailymotion.com,www.youtube-nocookie.com,player.vimeo.com",
)

# Speech recognition (contactcenter/speech.py, docs/operations.md): "" (none: the voice server
# runs on keypad choices only) or "faster-whisper" (offline, CPU) with the CTranslate2 Whisper
# model directory GUICHET_ASR_MODEL (python manage.py install_asr_model fills the default one).
ASR_BACKEND = env_str("GUICHET_ASR_BACKEND")
ASR_MODEL = Path(env_str("GUICHET_ASR_MODEL", str(BASE_DIR / "var" / "asr" / "whisper-base")))
ASR_THREADS = env_int("GUICHET_ASR_THREADS", 1)

# The chatbot's phrasing vectors, kept on disk for the processes of one machine
# (knowledge/encoder.py): a restarted process reads them instead of encoding the knowledge base
# again. Empty: off (each process encodes the base at its first question).
KNOWLEDGE_VECTOR_CACHE = env_str(
    "KNOWLEDGE_VECTOR_CACHE", str(BASE_DIR / "var" / "knowledge-vectors")
)
# Build the chatbot's engine when a web process starts, before it is ready (contactcenter/asgi.py,
# /health/ready): on in production.
KNOWLEDGE_WARM_UP = env_bool("KNOWLEDGE_WARM_UP", PRODUCTION)
