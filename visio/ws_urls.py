"""Websocket route of the visio signalling (collected by contactcenter.routing_ws)."""

from django.urls import path

from . import consumers

# Channels routes ASGI applications with Django's path(), typed for views only.
websocket_urlpatterns = [
    path("ws/visio/<str:token>/", consumers.RoomConsumer.as_asgi()),  # type: ignore[arg-type]
]
