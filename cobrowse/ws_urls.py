"""Websocket routes of co-browsing (collected by contactcenter.routing_ws)."""

from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/cobrowse/citizen/", consumers.CitizenConsumer.as_asgi()),
    path("ws/cobrowse/agent/<uuid:session_id>/", consumers.AgentConsumer.as_asgi()),
]
