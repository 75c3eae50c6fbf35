"""ASGI entry point: HTTP through Django, websockets through Channels (origin + auth checks)."""

import gc
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
django_asgi_app = get_asgi_application()

if settings.PRODUCTION:
    from contactcenter.checks import require_static_manifest

    require_static_manifest()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from contactcenter.logs import websocket_request_id  # noqa: E402
from contactcenter.routing_ws import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A request id for every message a socket handles (contactcenter/logs.py).
        "websocket": websocket_request_id(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)

if settings.KNOWLEDGE_WARM_UP:
    # The chatbot's engine built now, in a thread; /health/ready says 503 until it is done.
    from knowledge.warm_up import warm_up_in_background

    warm_up_in_background()

if settings.PROCESS_HEADER:
    from contactcenter.health import process_header_app

    application = process_header_app(application)

# A long-lived server holding thousands of websockets: the cyclic garbage collector's passes
# over that heap make the chat's delivery latency tail (bench/chat_load.py, GC_THRESHOLD=python
# for Python's defaults; figures in bench/RESULTS.md). What start-up created is
# frozen out of its scans, and collections run less often (reference counting still frees
# nearly everything at once; only reference cycles wait longer). GC_THRESHOLD sets it.
if settings.GC_THRESHOLD:
    gc.freeze()
    gc.set_threshold(*settings.GC_THRESHOLD)
