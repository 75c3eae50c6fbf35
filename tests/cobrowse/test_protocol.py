"""The wire protocol: validation of frames and the server-side masking of rrweb events."""

import copy
import json
import re

import pytest

from cobrowse import protocol
from cobrowse.protocol import ProtocolError

from .helpers import full_snapshot, input_event

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent


def _node(tag, attributes, children=()):
    return {
        "type": 2,
        "id": 9,
        "tagName": tag,
        "attributes": attributes,
        "childNodes": list(children),
    }


def _snapshot_of(node):
    return [
        {"type": 2, "timestamp": 1, "data": {"node": {"type": 0, "id": 1, "childNodes": [node]}}}
    ]


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


# --- Hostile pages: nothing of the replay may load a URL or run a script --------------------------
def _el(node_id, tag, attributes=None, children=()):
    return {
        "type": 2,
        "id": node_id,
        "tagName": tag,
        "attributes": dict(attributes or {}),
        "childNodes": list(children),
    }


def _text(node_id, text):
    return {"type": 3, "id": node_id, "textContent": text}


def _page(*body_children, head=()):
    """rrweb full snapshot of <html><head>…</head><body>…</body></html> (ids 1-3)."""
    head_node = _el(2, "head", {}, head)
    body = _el(3, "body", {}, body_children)
    html_node = _el(100, "html", {}, [head_node, body])
    return {
        "type": 2,
        "timestamp": 1,
        "data": {"node": {"type": 0, "id": 1, "childNodes": [html_node]}},
    }


def _mutation(**data):
    base = {"source": 0, "adds": [], "removes": [], "texts": [], "attributes": []}
    return {"type": 3, "timestamp": 2, "data": {**base, **data}}


GUICHET = "http://testserver"
HOSTILE_URL = "/console/usagers/2/?motif=X"


def _hostile_page():
    return _page(
        _el(10, "img", {"src": HOSTILE_URL, "srcset": f"{HOSTILE_URL} 2x", "alt": "logo"}),
        _el(11, "img", {"src": "x", "onerror": "fetch('/console/')"}),
        _el(12, "script", {"src": "/static/evil.js"}, [_text(13, "fetch('/console/')")]),
        _el(14, "picture", {}, [_el(15, "source", {"srcset": HOSTILE_URL})]),
        _el(16, "div", {"style": f"background: url({HOSTILE_URL}); color: red"}),
        _el(17, "form", {"action": HOSTILE_URL}, [_el(18, "button", {"formaction": "/x/"})]),
        _el(19, "a", {"href": "javascript:alert(1)", "class": "fr-link"}, [_text(20, "Lien")]),
        _el(21, "iframe", {"srcdoc": "<script>alert(1)</script>", "src": HOSTILE_URL}),
        _el(22, "svg", {}, [_el(23, "image", {"xlink:href": HOSTILE_URL})]),
        _el(24, "video", {"poster": HOSTILE_URL, "src": HOSTILE_URL}),
        _el(
            25,
            "style",
            {},
            [_text(26, f"@import '{HOSTILE_URL}'; p {{ background: url('{HOSTILE_URL}') }}")],
        ),
        _el(27, "object", {"data": HOSTILE_URL}),
        head=[
            _el(
                30,
                "link",
                {"rel": "stylesheet", "href": f"{GUICHET}/static/guichet/css/guichet.css?v=1"},
            ),
            _el(31, "link", {"rel": "stylesheet", "href": f"{GUICHET}{HOSTILE_URL}"}),
            _el(
                32, "link", {"rel": "prefetch", "href": f"{GUICHET}/static/guichet/css/guichet.css"}
            ),
            _el(33, "meta", {"http-equiv": "refresh", "content": f"0; url={HOSTILE_URL}"}),
            _el(34, "base", {"href": "https://evil.example/"}),
            _el(
                35,
                "link",
                {
                    "rel": "stylesheet",
                    "href": "https://evil.example/static/guichet/css/guichet.css",
                },
            ),
        ],
    )


def _all_nodes(node):
    stack, found = [node], []
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(current.get("childNodes", []))
    return found


def test_hostile_snapshot_loses_scripts_handlers_and_every_url_but_guichet_style_sheets():
    events = protocol.PageScrubber().scrub([_hostile_page()])
    nodes = {n["id"]: n for n in _all_nodes(events[0]["data"]["node"])}
    text = json.dumps(events)
    assert "/console/" not in text and "javascript" not in text.lower()
    assert "evil" not in text and "onerror" not in text and "srcdoc" not in text
    for dropped in (12, 13, 21, 27, 31, 32, 33, 34):
        assert dropped not in nodes, dropped
    assert nodes[10]["attributes"] == {"alt": "logo"}
    assert nodes[11]["attributes"] == {}
    assert nodes[15]["attributes"] == {}
    assert nodes[16]["attributes"]["style"] == "background: none; color: red"
    assert nodes[17]["attributes"] == {} and nodes[18]["attributes"] == {}
    assert nodes[19]["attributes"] == {"href": "#", "class": "fr-link"}
    assert nodes[23]["attributes"] == {} and nodes[24]["attributes"] == {}
    assert nodes[26]["textContent"] == " p { background: none }"
    # Guichet's own style sheet stays, as a path on the agent's own origin.
    assert nodes[30]["attributes"] == {
        "rel": "stylesheet",
        "href": "/static/guichet/css/guichet.css",
    }


@pytest.mark.parametrize(
    "css",
    [
        "background: u\\72l(/console/)",
        "background-image: image-set('/console/' 1x)",
        "background: url(/console/",
        "@import url(/console/);",
        'background: URL( "/console/" )',
    ],
)
def test_css_that_could_load_a_url_is_neutralised(css):
    cleaned = protocol.clean_css(css)
    assert "/console/" not in cleaned or not re.search(r"(url|image-set)\s*\(", cleaned, re.I)
    assert not re.search(r"url\s*\(\s*['\"]?/", cleaned, re.I)


def test_data_images_in_css_are_kept():
    css = 'background: url("data:image/png;base64,AAAA")'
    assert protocol.clean_css(css) == css


def test_mutations_get_the_same_allow_list_as_the_snapshot():
    scrubber = protocol.PageScrubber()
    scrubber.scrub([_page(_el(10, "div", {}), _el(11, "img", {"alt": "x"}), _el(12, "style"))])
    events = scrubber.scrub(
        [
            _mutation(
                adds=[
                    {"parentId": 10, "nextId": None, "node": _el(40, "img", {"src": HOSTILE_URL})},
                    {"parentId": 10, "nextId": None, "node": _el(41, "script", {})},
                    {"parentId": 41, "nextId": None, "node": _text(42, "fetch('/console/')")},
                    {
                        "parentId": 2,
                        "nextId": None,
                        "node": _el(43, "meta", {"http-equiv": "refresh"}),
                    },
                    {"parentId": 10, "nextId": None, "node": _el(44, "p", {"onclick": "x()"})},
                    {"parentId": 999, "nextId": None, "node": _el(45, "img", {"alt": "?"})},
                ],
                attributes=[
                    {
                        "id": 11,
                        "attributes": {"src": HOSTILE_URL, "srcset": HOSTILE_URL, "alt": "y"},
                    },
                    {"id": 10, "attributes": {"style": {"background": f"url({HOSTILE_URL})"}}},
                    {"id": 10, "attributes": {"onmouseover": "x()", "srcdoc": "<b>"}},
                    {"id": 777, "attributes": {"class": "unknown node"}},
                ],
                texts=[{"id": 13, "value": "x"}],
            ),
            {
                "type": 3,
                "timestamp": 3,
                "data": {
                    "source": 8,
                    "id": 12,
                    "adds": [{"rule": f"p {{ background: url({HOSTILE_URL}) }}", "index": 0}],
                },
            },
            {
                "type": 3,
                "timestamp": 3,
                "data": {
                    "source": 13,
                    "id": 12,
                    "index": [0],
                    "set": {"property": "background", "value": f"url({HOSTILE_URL})"},
                },
            },
            {
                "type": 3,
                "timestamp": 3,
                "data": {
                    "source": 15,
                    "id": 1,
                    "styleIds": [1],
                    "styles": [{"styleId": 1, "rules": [{"rule": f"@import '{HOSTILE_URL}';"}]}],
                },
            },
            {
                "type": 3,
                "timestamp": 3,
                "data": {"source": 10, "family": "x", "fontSource": HOSTILE_URL, "buffer": False},
            },
        ]
    )
    text = json.dumps(events)
    assert "/console/" not in text and "fetch" not in text and "x()" not in text
    data = events[0]["data"]
    assert [add["node"]["id"] for add in data["adds"]] == [40, 44]
    assert data["adds"][0]["node"]["attributes"] == {}
    assert data["adds"][1]["node"]["attributes"] == {}
    # Removals are sent as None: the replay removes the attribute rather than keeping the old one.
    assert data["attributes"][0]["attributes"] == {"src": None, "srcset": None, "alt": "y"}
    assert data["attributes"][1]["attributes"] == {"style": {"background": "none"}}
    assert data["attributes"][2]["attributes"] == {"onmouseover": None, "srcdoc": None}
    assert len(data["attributes"]) == 3 and data["texts"] == []
    assert [e["data"]["source"] for e in events[1:]] == [8, 13, 15]  # no font (a URL to load)


def test_the_node_map_has_a_limit(settings):
    settings.COBROWSE_MAX_NODES = 50
    with pytest.raises(ProtocolError) as error:
        protocol.PageScrubber().scrub([_page(*[_el(10 + i, "p") for i in range(60)])])
    assert error.value.code == protocol.CLOSE_TOO_LARGE


def test_removed_subtrees_are_forgotten_so_a_long_lived_page_stays_within_the_limit(settings):
    settings.COBROWSE_MAX_NODES = 40
    scrubber = protocol.PageScrubber()
    scrubber.scrub([_page(_el(10, "ul"))])
    next_id = 1000
    for _round in range(20):  # a list replaced again and again: 20 x 11 nodes added in all
        item = _el(next_id, "li", {}, [_text(next_id + 1, "ligne")])
        adds = [{"parentId": 10, "nextId": None, "node": item}]
        adds += [
            {"parentId": next_id, "nextId": None, "node": _el(next_id + 2 + i, "span")}
            for i in range(9)
        ]
        removes = [{"parentId": 10, "id": next_id - 100}] if next_id > 1000 else []
        scrubber.scrub([_mutation(adds=adds, removes=removes)])
        next_id += 100
    assert len(scrubber.nodes) < 40
    # What was removed is unknown now: a change to it is not relayed.
    events = scrubber.scrub([_mutation(texts=[{"id": 1001, "value": "x"}])])
    assert events[0]["data"]["texts"] == []


# --- Masking: what the recorder might let through ------------------------------------------------
def test_textarea_and_contenteditable_text_is_masked_in_snapshots_and_mutations():
    scrubber = protocol.PageScrubber()
    events = scrubber.scrub(
        [
            _page(
                _el(10, "textarea", {"name": "message"}, [_text(11, "Mon IBAN FR76 1234")]),
                _el(
                    12,
                    "div",
                    {"contenteditable": "true"},
                    [_el(13, "b", {}, [_text(14, "secret rédigé")])],
                ),
                _el(15, "p", {}, [_text(16, "Texte public")]),
            )
        ]
    )
    nodes = {n["id"]: n for n in _all_nodes(events[0]["data"]["node"])}
    assert nodes[11]["textContent"] == "*" * len("Mon IBAN FR76 1234")
    assert nodes[14]["textContent"] == "*" * len("secret rédigé")
    assert nodes[16]["textContent"] == "Texte public"
    events = scrubber.scrub(
        [
            _mutation(
                texts=[{"id": 11, "value": "FR76 9999"}, {"id": 14, "value": "autre secret"}],
                adds=[{"parentId": 13, "nextId": None, "node": _text(17, "ajouté secret")}],
            ),
            # An element made editable later: what is typed in it from then on is masked too.
            _mutation(attributes=[{"id": 15, "attributes": {"contenteditable": ""}}]),
            _mutation(texts=[{"id": 16, "value": "tapé après"}]),
        ]
    )
    text = json.dumps(events, ensure_ascii=False)
    for secret in ("FR76", "autre secret", "ajouté secret", "tapé après"):
        assert secret not in text, secret


def test_text_mutations_inside_a_masked_element_never_leave():
    scrubber = protocol.PageScrubber()
    scrubber.scrub(
        [_page(_el(10, "div", {"data-cobrowse-mask": ""}, [_text(11, "123")]), _el(12, "p"))]
    )
    events = scrubber.scrub(
        [
            _mutation(
                texts=[{"id": 11, "value": "Numéro fiscal 1234567890123"}],
                adds=[{"parentId": 10, "nextId": None, "node": _text(13, "Nouveau 987654")}],
                attributes=[{"id": 11, "attributes": {"title": "987654"}}],
            ),
            # Marked later: its content is masked from then on, and the mark cannot be removed.
            _mutation(attributes=[{"id": 12, "attributes": {"data-cobrowse-mask": ""}}]),
            _mutation(
                adds=[{"parentId": 12, "nextId": None, "node": _text(14, "IBAN 555")}],
                attributes=[{"id": 12, "attributes": {"data-cobrowse-mask": None}}],
            ),
            _mutation(adds=[{"parentId": 12, "nextId": None, "node": _text(15, "IBAN 666")}]),
        ]
    )
    text = json.dumps(events, ensure_ascii=False)
    for secret in ("1234567890123", "987654", "555", "666"):
        assert secret not in text, secret


def test_the_selected_option_is_not_relayed():
    scrubber = protocol.PageScrubber()
    events = scrubber.scrub(
        [
            _page(
                _el(
                    10,
                    "select",
                    {"name": "situation"},
                    [
                        _el(11, "option", {"value": "a"}, [_text(12, "Marié")]),
                        _el(13, "option", {"value": "b", "selected": True}, [_text(14, "Divorcé")]),
                    ],
                )
            )
        ]
    )
    nodes = {n["id"]: n for n in _all_nodes(events[0]["data"]["node"])}
    assert "selected" not in nodes[13]["attributes"]
    assert nodes[11]["attributes"]["value"] == nodes[13]["attributes"]["value"] == "*"
    events = scrubber.scrub([_mutation(attributes=[{"id": 11, "attributes": {"selected": True}}])])
    assert events[0]["data"]["attributes"][0]["attributes"] == {"selected": None}
