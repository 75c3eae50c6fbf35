"""The wire protocol: validation of frames and the server-side masking of rrweb events."""

import copy
import json

import pytest

from cobrowse import protocol
from cobrowse.protocol import ProtocolError

from .helpers import full_snapshot, input_event


def _node(tag, attributes, children=()):
    return {
        "type": 2,
        "id": 9,
        "tagName": tag,
        "attributes": attributes,
        "childNodes": list(children),
    }


def _snapshot_of(node):
    return [{"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "childNodes": [node]}}}]


def _scrubbed_node(node):
    return protocol.scrub_events(_snapshot_of(node))[0]["data"]["node"]["childNodes"][0]


@pytest.mark.parametrize("tag", ["input", "textarea", "select", "option"])
def test_snapshot_values_of_form_fields_are_masked(tag):
    node = _scrubbed_node(_node(tag, {"value": "1 rue des Lilas"}))
    assert node["attributes"]["value"] == "*" * len("1 rue des Lilas")


def test_hidden_inputs_are_masked_too_the_csrf_token_never_leaves():
    node = _scrubbed_node(
        _node("input", {"type": "hidden", "name": "csrfmiddlewaretoken", "value": "abc123"})
    )
    assert node["attributes"]["value"] == "******"


@pytest.mark.parametrize("kind", ["submit", "button", "checkbox", "radio"])
def test_labels_of_buttons_and_choice_values_are_kept(kind):
    node = _scrubbed_node(_node("input", {"type": kind, "value": "Envoyer"}))
    assert node["attributes"]["value"] == "Envoyer"


def test_session_secrets_in_attributes_are_dropped():
    node = _scrubbed_node(_node("body", {"hx-headers": '{"X-CSRFToken": "tok"}', "class": "x"}))
    assert node["attributes"] == {"class": "x"}


def test_a_blocked_element_never_carries_its_content():
    secret = {"type": 3, "id": 10, "textContent": "Numéro fiscal 1234567890123"}
    node = _scrubbed_node(_node("div", {"data-cobrowse-mask": ""}, [secret]))
    assert node["childNodes"] == []


def test_deeply_nested_pages_are_walked_and_masked():
    root = leaf = _node("div", {})
    for _ in range(300):
        child = _node("div", {})
        leaf["childNodes"] = [child]
        leaf = child
    leaf["childNodes"] = [_node("input", {"value": "secret"})]
    events = protocol.scrub_events(_snapshot_of(root))
    assert "secret" not in json.dumps(events)


def test_json_nested_beyond_what_python_decodes_is_malformed_not_a_crash():
    frame = '{"type": "rrweb", "events": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(ProtocolError) as error:
        protocol.parse_frame(frame)
    assert error.value.code == protocol.CLOSE_MALFORMED


def test_typed_text_is_masked_and_mutations_cannot_reveal_values():
    mutation = {
        "type": 3,
        "timestamp": 2,
        "data": {
            "source": 0,
            "adds": [{"parentId": 3, "nextId": None, "node": _node("input", {"value": "42"})}],
            "attributes": [{"id": 5, "attributes": {"value": "motdepasse", "hx-vals": "{}"}}],
            "texts": [],
            "removes": [],
        },
    }
    events = protocol.scrub_events([input_event("motdepasse"), mutation])
    text = json.dumps(events)
    assert "motdepasse" not in text and "42" not in text and "hx-vals" not in text
    assert events[0]["data"]["text"] == "**********"


def test_page_url_loses_its_query_string_and_fragment():
    events = protocol.scrub_events(full_snapshot())
    assert events[0]["data"]["href"] == "http://testserver/espace/"


def test_canvas_custom_and_plugin_events_are_dropped():
    events = [
        {"type": 3, "timestamp": 1, "data": {"source": 9, "id": 1, "commands": []}},
        {"type": 5, "timestamp": 1, "data": {"tag": "x", "payload": {}}},
        {"type": 6, "timestamp": 1, "data": {"plugin": "rrweb/console@1", "payload": {}}},
        {"type": 3, "timestamp": 1, "data": {"source": 3, "id": 1, "x": 0, "y": 120}},
    ]
    kept = protocol.scrub_events(events)
    assert [e["data"].get("source") for e in kept] == [3]


def test_scrubbing_twice_changes_nothing_more():
    once = protocol.scrub_events(full_snapshot(value="secret") + [input_event("secret")])
    twice = protocol.scrub_events(copy.deepcopy(once))
    assert once == twice


@pytest.mark.parametrize(
    "events",
    [
        None,
        "events",
        [1],
        [{"type": "2", "timestamp": 1, "data": {}}],
        [{"type": 2, "timestamp": "now", "data": {}}],
        [{"type": 2, "timestamp": 1, "data": []}],
        [{"type": 3, "timestamp": 1, "data": {}}] * 1001,
    ],
)
def test_invalid_event_lists_are_malformed(events):
    with pytest.raises(ProtocolError) as error:
        protocol.scrub_events(events)
    assert error.value.code == protocol.CLOSE_MALFORMED


def test_page_path_keeps_the_path_only():
    assert protocol.clean_page_path("/espace/demandes/?tri=date#haut") == "/espace/demandes/"
    assert protocol.clean_page_path("https://guichet.fr/espace/") == "/espace/"
    for bad in ["", "espace", None, 42, "/" + "a" * 3000]:
        with pytest.raises(ProtocolError):
            protocol.clean_page_path(bad)


def test_frame_size_limit_counts_bytes_not_characters():
    limit = 1024 * 1024
    assert not protocol.frame_too_large("a" * limit)
    assert protocol.frame_too_large("a" * (limit + 1))
    # 300 000 « é » are 600 000 bytes: under; 600 000 are 1 200 000 bytes: over.
    assert not protocol.frame_too_large("é" * 300_000)
    assert protocol.frame_too_large("é" * 600_000)


def test_agent_messages_are_rebuilt_from_known_fields_only():
    cleaned = protocol.clean_agent_message(
        {"type": "pointer", "node": 3, "x": 0.123456, "y": 1, "onclick": "x"}
    )
    assert cleaned == {"type": "pointer", "node": 3, "x": 0.1235, "y": 1.0}
    with pytest.raises(ProtocolError) as error:
        protocol.clean_agent_message({"type": "click", "node": 3})
    assert error.value.code == protocol.CLOSE_FORBIDDEN
