from django.urls import path

from . import consumers

# Channels routes ASGI applications with Django's path(), typed for views only.
websocket_urlpatterns = [
    path("ws/tchat/agent/", consumers.AgentDeskConsumer.as_asgi()),  # type: ignore[arg-type]
    path(
        "ws/tchat/<int:conversation_id>/",
        consumers.ChatConsumer.as_asgi(),  # type: ignore[arg-type]
    ),
]
