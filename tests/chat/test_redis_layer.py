"""The chat on the production channel layer (channels_redis). Skipped without REDIS_URL."""

from __future__ import annotations

import os
import uuid

import pytest

from chat.consumers import db
from chat.models import ChatMessage, group_name
from contactcenter.settings import redis_channel_layer

from .conftest import open_socket, receive_message, receive_until

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)"),
]


@pytest.fixture(params=["pubsub", "list"])
def redis_layer(request, settings):
    """Both Redis layers the settings offer (CHANNEL_LAYER), each under its own prefix."""
    prefix = f"guichet-test-chat-{uuid.uuid4().hex[:8]}"
    settings.CHANNEL_LAYERS = {
        "default": redis_channel_layer(os.environ["REDIS_URL"], prefix, request.param)
    }
    return request.param, prefix


async def group_members(layer: tuple[str, str], conversation_id: int) -> int:
    """Sockets in the conversation's group, as Redis sees it: subscribers of the group's
    Pub/Sub channel (one per process here) or members of the list layer's group set."""
    import redis.asyncio as redis

    kind, prefix = layer
    client = redis.from_url(os.environ["REDIS_URL"])
    try:
        if kind == "pubsub":
            channel = f"{prefix}__group__{group_name(conversation_id)}"
            counts = await client.pubsub_numsub(channel)
            return counts[0][1]
        return await client.zcard(f"{prefix}:group:{group_name(conversation_id)}")
    finally:
        await client.aclose()


async def test_exchange_replay_and_duplicates_over_redis(redis_layer, live_chat, citizen, agent_a):
    path = f"/ws/tchat/{live_chat.pk}/"
    citizen_socket = await open_socket(path, citizen)
    await citizen_socket.receive_json_from()
    agent_socket = await open_socket(path, agent_a)
    await agent_socket.receive_json_from()
    # Two sockets in the group: two members of the list layer's set, one subscribed process.
    assert await group_members(redis_layer, live_chat.pk) == (2 if redis_layer[0] == "list" else 1)

    frame = {"type": "message", "client_id": "redis-000001", "body": "Bonjour via Redis"}
    await citizen_socket.send_json_to(frame)
    delivered = await receive_message(agent_socket, client_id="redis-000001", timeout=5)
    assert delivered["body"] == "Bonjour via Redis"
    await citizen_socket.send_json_to(frame)  # resent: stored once
    again = await receive_until(citizen_socket, lambda f: f.get("duplicate"), timeout=5)
    assert again["message"]["seq"] == delivered["seq"]

    await citizen_socket.disconnect()
    for n in range(2):
        await agent_socket.send_json_to(
            {"type": "message", "client_id": f"redis-agent-{n}", "body": f"Réponse {n}"}
        )
        await receive_message(agent_socket, client_id=f"redis-agent-{n}", timeout=5)
    back = await open_socket(path, citizen)
    await back.receive_json_from()
    await back.send_json_to({"type": "sync", "last_seq": delivered["seq"]})
    history = await receive_until(back, lambda f: f["type"] == "history", timeout=5)
    assert [m["body"] for m in history["messages"]] == ["Réponse 0", "Réponse 1"]

    await back.disconnect()
    await agent_socket.disconnect()
    assert await group_members(redis_layer, live_chat.pk) == 0
    count = await db(
        ChatMessage.objects.filter(conversation=live_chat, client_id="redis-000001").count
    )()
    assert count == 1
