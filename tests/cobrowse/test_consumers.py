"""Co-browsing websockets: consent, roles, what the agent may send, limits, bad frames, ending."""

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from cobrowse import protocol, services
from cobrowse.models import CobrowseSession
from contactcenter.models import AuditLog, Event

from .helpers import (
    CITIZEN_PATH,
    agent_path,
    application,
    drain,
    eventually,
    expect_closed,
    full_snapshot,
    group_members,
    input_event,
    open_socket,
    receive,
    receive_type,
    refresh,
    send,
    start_live,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

END = CobrowseSession.EndReason


# --- Authentication and roles --------------------------------------------------------------------
async def test_anonymous_citizen_socket_is_closed_4401():
    await open_socket(AnonymousUser(), expect_close=protocol.CLOSE_UNAUTHENTICATED)


async def test_agent_cannot_open_the_citizen_socket(agent_a):
    await open_socket(agent_a, expect_close=protocol.CLOSE_FORBIDDEN)


async def test_citizen_cannot_open_an_agent_socket(citizen, offered):
    await open_socket(citizen, agent_path(offered.pk), expect_close=protocol.CLOSE_FORBIDDEN)


async def test_other_agent_cannot_join_the_session(offered, agent_b, supervisor):
    await open_socket(agent_b, agent_path(offered.pk), expect_close=protocol.CLOSE_NOT_FOUND)
    await open_socket(supervisor, agent_path(offered.pk), expect_close=protocol.CLOSE_NOT_FOUND)


async def test_socket_from_a_foreign_origin_is_refused(citizen):
    communicator = WebsocketCommunicator(
        AllowedHostsOriginValidator(application()),
        CITIZEN_PATH,
        headers=[(b"origin", b"https://evil.example.com"), (b"host", b"testserver")],
    )
    communicator.scope["user"] = citizen
    connected, _ = await communicator.connect()
    assert not connected


async def test_other_citizen_cannot_accept_the_offer(citizen2, offered, agent_a):
    agent = await open_socket(agent_a, agent_path(offered.pk))
    assert (await receive(agent))["type"] == "waiting"
    intruder = await open_socket(citizen2)
    await send(intruder, {"type": "accept", "session": str(offered.pk)})
    closed = await receive_type(intruder, "offer_closed")
    assert closed["reason"] == "gone"
    # The intruder's page is not sharing: page frames are refused.
    await send(intruder, {"type": "rrweb", "events": full_snapshot()})
    await expect_closed(intruder, protocol.CLOSE_CONSENT_REQUIRED)
    assert await agent.receive_nothing(0.2)
    assert (await refresh(offered)).status == CobrowseSession.Status.OFFERED
    await intruder.disconnect()
    await agent.disconnect()


# --- Consent --------------------------------------------------------------------------------
async def test_no_frame_reaches_the_agent_before_the_citizen_accepts(citizen, agent_a, offered):
    page = await open_socket(citizen)
    offer = await receive_type(page, "offer")
    assert offer["agent"] == "Alice"
    assert offer["service"] == "Service des impôts des particuliers"
    agent = await open_socket(agent_a, agent_path(offered.pk))
    assert (await receive(agent))["type"] == "waiting"
    await send(page, {"type": "rrweb", "events": full_snapshot()})
    await expect_closed(page, protocol.CLOSE_CONSENT_REQUIRED)
    assert await agent.receive_nothing(0.3)
    await page.disconnect()
    await agent.disconnect()


async def test_page_frames_flow_after_accept_with_every_input_masked(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    events = full_snapshot(value="FR76 3000 6000 0112 3456 7890 189") + [
        input_event("FR76 3000 6000 0112 3456 7890 189")
    ]
    await send(live.citizen, {"type": "rrweb", "events": events})
    output = await live.agent.receive_output(2)
    text = output["text"]
    assert "Bonjour Camille" in text  # the page's text is what the agent is there to see
    assert "3456" not in text and "FR76" not in text
    assert "X-CSRFToken" not in text
    assert "q=secret" not in text
    frame = json.loads(text)
    snapshot_input = frame["events"][1]["data"]["node"]["childNodes"][0]["childNodes"][0][
        "childNodes"
    ][1]
    assert set(snapshot_input["attributes"]["value"]) == {"*"}
    assert set(frame["events"][2]["data"]["text"]) == {"*"}
    await live.close()


async def test_declining_tells_the_agent_and_closes_its_socket(citizen, agent_a, offered):
    page = await open_socket(citizen)
    await receive_type(page, "offer")
    agent = await open_socket(agent_a, agent_path(offered.pk))
    await receive(agent)
    await send(page, {"type": "decline", "session": str(offered.pk)})
    ended = await receive_type(agent, "ended")
    assert ended["reason"] == END.DECLINED
    await expect_closed(agent, protocol.CLOSE_ENDED)
    assert (await refresh(offered)).status == CobrowseSession.Status.DECLINED
    assert not await database_sync_to_async(Event.objects.filter(type="cobrowse").exists)()
    await page.disconnect()
    await agent.disconnect()


async def test_invitation_pops_up_on_every_open_page_and_closes_on_accept(citizen, agent_a, case_a):
    first = await open_socket(citizen)
    second = await open_socket(citizen)
    assert await eventually(lambda: services.is_online(citizen.pk))
    session = await database_sync_to_async(services.invite)(agent_a, citizen=citizen, case=case_a)
    for page in (first, second):
        offer = await receive_type(page, "offer")
        assert offer == {
            "type": "offer",
            "session": str(session.pk),
            "agent": "Alice",
            "service": "Service des impôts des particuliers",
            "expires_at": offer["expires_at"],
        }
    await send(first, {"type": "accept", "session": str(session.pk)})
    await receive_type(first, "started")
    closed = await receive_type(second, "offer_closed")
    assert closed["reason"] == "accepted"
    await first.disconnect()
    await second.disconnect()


# --- What the agent may send -----------------------------------------------------------------
async def test_agent_pointer_reaches_the_citizen_stripped_to_known_fields(
    citizen, agent_a, offered
):
    live = await start_live(offered, citizen, agent_a)
    await send(
        live.agent,
        {"type": "pointer", "node": 5, "x": 0.25, "y": 0.5, "click": True, "href": "/x"},
    )
    assert await receive_type(live.citizen, "pointer") == {
        "type": "pointer",
        "node": 5,
        "x": 0.25,
        "y": 0.5,
    }
    await send(live.agent, {"type": "highlight", "node": 7, "script": "alert(1)"})
    assert await receive_type(live.citizen, "highlight") == {"type": "highlight", "node": 7}
    await live.close()


@pytest.mark.parametrize(
    "kind",
    ["click", "input", "keydown", "scroll", "navigate", "rrweb", "accept", "ping", "Pointer"],
)
async def test_any_other_agent_message_type_closes_4403_and_reaches_nobody(
    citizen, agent_a, offered, kind
):
    live = await start_live(offered, citizen, agent_a)
    await send(live.agent, {"type": kind, "node": 5, "x": 0.1, "y": 0.1, "text": "hello"})
    await expect_closed(live.agent, protocol.CLOSE_FORBIDDEN)
    received = {message["type"] for message in await drain(live.citizen)}
    # Only bookkeeping reached the page (the accepted offer closing, the agent leaving).
    assert received <= {"offer_closed", "peer"}
    await live.close()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "pointer", "node": "5", "x": 0.1, "y": 0.1},
        {"type": "pointer", "node": 5, "x": 1.5, "y": 0.1},
        {"type": "pointer", "node": 5, "x": "NaN", "y": 0.1},
        {"type": "pointer", "node": -1, "x": 0.1, "y": 0.1},
        {"type": "pointer", "node": 5},
        {"type": "highlight", "node": True},
    ],
)
async def test_agent_pointer_with_bad_fields_closes_4400(citizen, agent_a, offered, message):
    live = await start_live(offered, citizen, agent_a)
    await send(live.agent, message)
    await expect_closed(live.agent, protocol.CLOSE_MALFORMED)
    await live.close()


async def test_agent_pointer_before_consent_is_dropped(citizen, agent_a, offered):
    page = await open_socket(citizen)
    await receive_type(page, "offer")
    agent = await open_socket(agent_a, agent_path(offered.pk))
    await receive(agent)
    await send(agent, {"type": "pointer", "node": 1, "x": 0, "y": 0})
    assert await page.receive_nothing(0.2)
    await page.disconnect()
    await agent.disconnect()


# --- Limits and malformed frames -------------------------------------------------------------
@pytest.mark.parametrize("frame", ["{not json", "[1, 2]", '"text"', '{"type": 3}', "{}"])
async def test_malformed_frames_close_4400(citizen, agent_a, offered, frame):
    page = await open_socket(citizen)
    await page.send_to(text_data=frame)
    await expect_closed(page, protocol.CLOSE_MALFORMED)
    await page.disconnect()
    agent = await open_socket(agent_a, agent_path(offered.pk))
    await receive(agent)
    await agent.send_to(text_data=frame)
    await expect_closed(agent, protocol.CLOSE_MALFORMED)
    await agent.disconnect()


async def test_binary_frames_close_4400(citizen):
    page = await open_socket(citizen)
    await page.send_to(bytes_data=b"\x00\x01")
    await expect_closed(page, protocol.CLOSE_MALFORMED)
    await page.disconnect()


async def test_unknown_citizen_message_type_closes_4400(citizen):
    page = await open_socket(citizen)
    await send(page, {"type": "pointer", "node": 1, "x": 0, "y": 0})
    await expect_closed(page, protocol.CLOSE_MALFORMED)
    await page.disconnect()


async def test_crafted_frames_are_scrubbed_with_the_page_in_mind(citizen, agent_a, offered):
    """The server remembers the page between frames: a later text change inside a masked or
    editable element, or a URL added by a mutation, never reaches the agent."""
    live = await start_live(offered, citizen, agent_a)
    snapshot = full_snapshot(text="Bonjour Camille")
    body = snapshot[1]["data"]["node"]["childNodes"][0]["childNodes"][0]
    body["childNodes"] += [
        {"type": 2, "id": 6, "tagName": "div", "attributes": {"data-cobrowse-mask": ""},
         "childNodes": []},
        {"type": 2, "id": 7, "tagName": "textarea", "attributes": {},
         "childNodes": [{"type": 3, "id": 8, "textContent": "Mon adresse 12 rue Haute"}]},
        {"type": 2, "id": 9, "tagName": "img",
         "attributes": {"src": "/console/usagers/2/?motif=X", "onerror": "alert(1)"},
         "childNodes": []},
    ]  # fmt: skip
    await send(live.citizen, {"type": "rrweb", "events": snapshot})
    first = (await live.agent.receive_output(2))["text"]
    mutation = {
        "type": 3,
        "timestamp": 1200,
        "data": {
            "source": 0,
            "adds": [
                {"parentId": 6, "nextId": None,
                 "node": {"type": 3, "id": 10, "textContent": "NIR 1850"}},
                {"parentId": 3, "nextId": None, "node": {"type": 2, "id": 11, "tagName": "script",
                 "attributes": {}, "childNodes": []}},
            ],
            "texts": [{"id": 8, "value": "Mon adresse 99 rue Basse"}],
            "attributes": [{"id": 9, "attributes": {"src": "/console/demandes/X/?motif=Y"}}],
            "removes": [],
        },
    }  # fmt: skip
    await send(live.citizen, {"type": "rrweb", "events": [mutation]})
    second = (await live.agent.receive_output(2))["text"]
    for text in (first, second):
        assert "rue Haute" not in text and "rue Basse" not in text and "NIR 1850" not in text
        assert "/console/" not in text and "alert" not in text and "script" not in text
    assert "Bonjour Camille" in first
    await live.close()


async def test_a_page_with_too_many_nodes_closes_4413(citizen, agent_a, offered, settings):
    settings.COBROWSE_MAX_NODES = 20
    live = await start_live(offered, citizen, agent_a)
    snapshot = full_snapshot()
    body = snapshot[1]["data"]["node"]["childNodes"][0]["childNodes"][0]
    body["childNodes"] += [
        {"type": 2, "id": 100 + i, "tagName": "p", "attributes": {}, "childNodes": []}
        for i in range(30)
    ]
    await send(live.citizen, {"type": "rrweb", "events": snapshot})
    await expect_closed(live.citizen, protocol.CLOSE_TOO_LARGE)
    assert await live.agent.receive_nothing(0.3)
    await live.close()


async def test_frames_over_one_megabyte_close_4413(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    big = full_snapshot(text="x" * (1024 * 1024))
    await send(live.citizen, {"type": "rrweb", "events": big})
    await expect_closed(live.citizen, protocol.CLOSE_TOO_LARGE)
    assert await live.agent.receive_nothing(0.3)  # nothing relayed
    await live.close()


async def test_frame_just_under_one_megabyte_is_relayed(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    await send(live.citizen, {"type": "rrweb", "events": full_snapshot(text="y" * 1_000_000)})
    frame = json.loads((await live.agent.receive_output(2))["text"])
    assert frame["type"] == "rrweb"
    await live.close()


async def test_agent_frame_over_one_megabyte_closes_4413(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    await send(live.agent, {"type": "pointer", "node": 1, "x": 0, "y": 0, "pad": "z" * 1_100_000})
    await expect_closed(live.agent, protocol.CLOSE_TOO_LARGE)
    await live.close()


async def test_chunked_snapshot_is_reassembled_masked_and_relayed(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    text = json.dumps(
        {"type": "rrweb", "events": full_snapshot(value="motdepasse", text="z" * 300_000)}
    )
    size = 120_000
    parts = [text[i : i + size] for i in range(0, len(text), size)]
    for index, part in enumerate(parts):
        await send(
            live.citizen,
            {"type": "chunk", "id": 1, "index": index, "total": len(parts), "data": part},
        )
    relayed = (await live.agent.receive_output(2))["text"]
    assert "z" * 300_000 in relayed
    assert "motdepasse" not in relayed
    await live.close()


async def test_chunks_out_of_order_close_4400(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    await send(live.citizen, {"type": "chunk", "id": 1, "index": 1, "total": 2, "data": "{"})
    await expect_closed(live.citizen, protocol.CLOSE_MALFORMED)
    await live.close()


async def test_too_many_chunks_close_4413(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    await send(live.citizen, {"type": "chunk", "id": 1, "index": 0, "total": 1000, "data": "{"})
    await expect_closed(live.citizen, protocol.CLOSE_TOO_LARGE)
    await live.close()


# --- Ending ---------------------------------------------------------------------------------
async def test_citizen_ends_the_session_and_the_agent_view_closes(
    citizen, agent_a, offered, case_a
):
    live = await start_live(offered, citizen, agent_a)
    await send(live.citizen, {"type": "page", "path": "/espace/?secret=1"})
    await send(live.citizen, {"type": "page", "path": "/espace/historique/"})
    await asyncio.sleep(0.1)
    await send(live.citizen, {"type": "end"})
    ended = await receive_type(live.agent, "ended")
    assert ended["reason"] == END.CITIZEN
    await expect_closed(live.agent, protocol.CLOSE_ENDED)
    session = await refresh(offered)
    assert session.status == CobrowseSession.Status.ENDED
    assert session.pages == ["/espace/", "/espace/historique/"]
    event = await database_sync_to_async(lambda: Event.objects.get(type="cobrowse"))()
    assert event.payload["pages"] == ["/espace/", "/espace/historique/"]
    assert event.payload["agent"] == "Alice"
    assert event.case_id == case_a.pk  # the citizen's open case the agent can see
    assert event.actor_id == agent_a.pk
    assert event.citizen_id == citizen.pk
    # After the end, the page frames are refused again.
    await send(live.citizen, {"type": "rrweb", "events": full_snapshot()})
    await expect_closed(live.citizen, protocol.CLOSE_CONSENT_REQUIRED)
    await live.close()


async def test_agent_ends_the_session_and_the_citizen_page_stops(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    await send(live.agent, {"type": "end"})
    ended = await receive_type(live.citizen, "ended")
    assert ended["reason"] == END.AGENT
    await expect_closed(live.agent, protocol.CLOSE_ENDED)
    assert (await refresh(offered)).end_reason == END.AGENT
    await live.close()


async def test_acceptance_is_audited(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    audit = await database_sync_to_async(
        lambda: AuditLog.objects.get(action="cobrowse", actor=agent_a)
    )()
    assert audit.citizen_id == citizen.pk
    assert audit.detail["session"] == str(offered.pk)
    await live.close()


async def test_citizen_gone_longer_than_grace_ends_the_session(
    citizen, agent_a, offered, fast_timers
):
    live = await start_live(offered, citizen, agent_a)
    await live.citizen.disconnect()
    away = await receive_type(live.agent, "peer")
    assert away == {"type": "peer", "role": "citizen", "present": False}
    ended = await receive_type(live.agent, "ended", timeout=3)
    assert ended["reason"] == END.CITIZEN_GONE
    await expect_closed(live.agent, protocol.CLOSE_ENDED)
    await live.agent.disconnect()


async def test_next_page_of_the_tab_resumes_within_grace(citizen, agent_a, offered, fast_timers):
    fast_timers.COBROWSE_PEER_GRACE = timedelta(seconds=2)
    live = await start_live(offered, citizen, agent_a)
    await live.citizen.disconnect()
    assert (await receive_type(live.agent, "peer"))["present"] is False
    next_page = await open_socket(citizen)
    await send(next_page, {"type": "resume", "session": str(offered.pk)})
    started = await receive_type(next_page, "started")
    assert started["agent"] == "Alice"
    assert (await receive_type(live.agent, "peer"))["present"] is True
    await asyncio.sleep(0.3)
    assert (await refresh(offered)).status == CobrowseSession.Status.ACTIVE
    await send(next_page, {"type": "rrweb", "events": full_snapshot()})
    assert json.loads((await live.agent.receive_output(2))["text"])["type"] == "rrweb"
    await next_page.disconnect()
    await live.agent.disconnect()


async def test_resume_of_someone_elses_session_is_refused(citizen, citizen2, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    other = await open_socket(citizen2)
    await send(other, {"type": "resume", "session": str(offered.pk)})
    assert (await receive_type(other, "ended"))["reason"] == "unknown"
    await send(other, {"type": "rrweb", "events": full_snapshot()})
    await expect_closed(other, protocol.CLOSE_CONSENT_REQUIRED)
    await other.disconnect()
    await live.close()


async def test_second_tab_taking_over_stops_the_first(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    other_tab = await open_socket(citizen)
    await send(other_tab, {"type": "resume", "session": str(offered.pk)})
    await receive_type(other_tab, "started")
    replaced = await receive_type(live.citizen, "replaced")
    assert replaced["session"] == str(offered.pk)
    # The first tab no longer shares anything.
    await send(live.citizen, {"type": "rrweb", "events": full_snapshot()})
    await expect_closed(live.citizen, protocol.CLOSE_CONSENT_REQUIRED)
    await other_tab.disconnect()
    await live.close()


async def test_inactivity_ends_the_session(citizen, agent_a, offered, fast_timers):
    fast_timers.COBROWSE_INACTIVITY = timedelta(milliseconds=400)
    live = await start_live(offered, citizen, agent_a)
    ended = await receive_type(live.agent, "ended", timeout=3)
    assert ended["reason"] == END.INACTIVITY
    assert (await receive_type(live.citizen, "ended"))["reason"] == END.INACTIVITY
    await live.close()


async def test_pointer_counts_as_activity(citizen, agent_a, offered, fast_timers):
    # Pointers every 0.3 s for 3 s keep a session with a 1.2 s inactivity limit alive (the
    # margin absorbs a loaded machine's delays; the total is well past the limit).
    fast_timers.COBROWSE_INACTIVITY = timedelta(milliseconds=1200)
    live = await start_live(offered, citizen, agent_a)
    for _ in range(10):
        await send(live.agent, {"type": "pointer", "node": 1, "x": 0.5, "y": 0.5})
        await receive_type(live.citizen, "pointer", timeout=5)
        await asyncio.sleep(0.3)
    assert (await refresh(offered)).status == CobrowseSession.Status.ACTIVE
    await live.close()


async def test_agent_console_reconnecting_asks_the_page_for_a_fresh_snapshot(
    citizen, agent_a, offered
):
    live = await start_live(offered, citizen, agent_a)
    await live.agent.disconnect()
    assert (await receive_type(live.citizen, "peer"))["present"] is False
    console = await open_socket(agent_a, agent_path(offered.pk))
    assert (await receive(console))["type"] == "active"
    assert await receive_type(live.citizen, "snapshot") == {"type": "snapshot"}
    await console.disconnect()
    await live.citizen.disconnect()


async def test_groups_are_empty_after_everyone_disconnects(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    groups = [
        services.citizen_group(citizen.pk),
        services.session_group(offered.pk, "citizen"),
        services.session_group(offered.pk, "agent"),
    ]
    assert all([await group_members(g) for g in groups])
    await live.close()
    for group in groups:
        assert await group_members(group) == set(), group


async def test_groups_are_empty_after_the_session_ends(citizen, agent_a, offered):
    live = await start_live(offered, citizen, agent_a)
    await send(live.agent, {"type": "end"})
    await receive_type(live.citizen, "ended")
    await expect_closed(live.agent, protocol.CLOSE_ENDED)
    assert await group_members(services.session_group(offered.pk, "citizen")) == set()
    assert await group_members(services.session_group(offered.pk, "agent")) == set()
    await live.close()
    assert await group_members(services.citizen_group(citizen.pk)) == set()


async def test_ended_session_socket_says_ended(citizen, agent_a, offered):
    await database_sync_to_async(services.end_session)(offered.pk, END.AGENT)
    agent = await open_socket(agent_a, agent_path(offered.pk))
    assert (await receive(agent))["type"] == "ended"
    await expect_closed(agent, protocol.CLOSE_ENDED)
    await agent.disconnect()


async def test_presence_follows_open_pages(citizen):
    online = lambda: services.is_online(citizen.pk)  # noqa: E731
    assert not online()
    first = await open_socket(citizen)
    second = await open_socket(citizen)
    assert await eventually(online)
    await first.disconnect()
    # The page that closed forgot the presence; the other page re-announces itself.
    assert await eventually(online)
    await second.disconnect()
    assert not online()


async def test_a_citizen_socket_that_fails_still_tells_the_agent_and_stops_watching(
    citizen, agent_a, offered, monkeypatch
):
    live = await start_live(offered, citizen, agent_a)

    def failing(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(services, "record_page", failing)
    await send(live.citizen, {"type": "page", "path": "/espace/"})
    with pytest.raises(RuntimeError):  # the consumer died of it
        for _ in range(5):
            await live.citizen.receive_output(1)
    assert (await receive_type(live.agent, "peer"))["present"] is False
    assert (await refresh(offered)).citizen_channel == ""
    assert len(_watchdogs()) == 1  # the agent's only
    await live.agent.disconnect()
    await asyncio.sleep(0)
    assert _watchdogs() == []


def _watchdogs():
    return [
        task
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "") == "BaseCobrowseConsumer._watch"
        and not task.done()
    ]
