"""Websocket URL patterns of every app (each app exposes ``websocket_urlpatterns``)."""

from importlib import import_module

websocket_urlpatterns = []
for _app in ("routing", "chat", "cobrowse", "visio"):
    try:
        _module = import_module(f"{_app}.ws_urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.ws_urls":
            raise
        continue
    websocket_urlpatterns += _module.websocket_urlpatterns
