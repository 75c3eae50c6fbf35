from django.urls import path

from . import consumers

# Channels routes ASGI applications with Django's path(), typed for views only.
websocket_urlpatterns = [
    path("ws/availability/", consumers.AvailabilityConsumer.as_asgi()),  # type: ignore[arg-type]
    path("ws/presence/", consumers.PresenceConsumer.as_asgi()),  # type: ignore[arg-type]
]
