"""Websocket routes of co-browsing (collected by contactcenter.routing_ws)."""

from django.urls import path

from . import consumers

# Channels routes ASGI applications with Django's path(), typed for views only.
websocket_urlpatterns = [
    path("ws/cobrowse/citizen/", consumers.CitizenConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/cobrowse/agent/<uuid:session_id>/", consumers.AgentConsumer.as_asgi()),  # type: ignore[arg-type]
]
