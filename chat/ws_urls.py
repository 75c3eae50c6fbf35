from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/tchat/agent/", consumers.AgentDeskConsumer.as_asgi()),
    path("ws/tchat/<int:conversation_id>/", consumers.ChatConsumer.as_asgi()),
]
