"""Every link and every page the chatbot names must exist: the URLs in its answers, in the FAQ
articles and in the templates resolve to a view, and every page, section or button it tells
the citizen to open ("ouvrez **Mes demandes**", "page « … »") is a heading, a navigation
label, a link or a button of a real page of Guichet. Articles about another administration's
website say which one (its address or name); their section names are that site's."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import Resolver404, resolve, reverse

from contactcenter.routing_ws import websocket_urlpatterns
from knowledge import services as knowledge_services

ROOT = Path(__file__).resolve().parents[2]
KB_PATH = ROOT / "contactcenter" / "demo_data" / "faq.json"

# "ouvrez **X**", "rubrique **X**", "la page « X »", "cliquez sur le bouton **X**"...
NAMED_PAGE = re.compile(
    r"(?:rubrique|page|onglet|menu|bouton|lien|ouvrez|ouvrir|allez (?:dans|sur)|"
    r"cliquez sur(?: le bouton| le lien)?|depuis)\s+"
    r"(?:\*\*(?P<bold>[^*]+)\*\*|« ?(?P<quoted>[^»]+?) ?»)",
    re.IGNORECASE,
)
URL = re.compile(r"https?://[^\s)\]»\"'<>]+|(?<![\w/.:{%])/(?:[\w-]+/)+(?![\w{])")
# Another administration's website, named in the article: its sections are not Guichet's.
OTHER_SITE = re.compile(
    r"impots\.gouv\.fr|espace particulier|ameli|ants\.gouv\.fr|site officiel|France Travail|"
    r"espace demandeur d'emploi|service public de l'emploi|Mes services étudiant|"
    r"messervices\.etudiant",
    re.IGNORECASE,
)
EXTERNAL_DOMAINS = (".gouv.fr", "ameli.fr", "francetravail.fr", "service-public.fr")
CITIZEN_PAGES = [
    "messaging:space",
    "messaging:new_request",
    "messaging:history",
    "messaging:preferences",
    "messaging:access_log",
    "routing:callback_new",
    "chat:start",
    "knowledge:faq",
    "knowledge:assistant",
]
TEMPLATES = ROOT / "templates"


def normalize(text: str) -> str:
    text = html.unescape(text).replace("\u2019", "'").replace("\xa0", " ")
    return " ".join(text.split()).strip(" .:").casefold()


def visible_names(page: str) -> set[str]:
    """Headings, navigation labels, links, buttons and labels of a rendered page."""
    names = set()
    for tag in ("h1", "h2", "h3", "a", "button", "label", "legend", "title"):
        for inner in re.findall(rf"<{tag}\b[^>]*>(.*?)</{tag}>", page, re.S):
            text = re.sub(r"<[^>]+>", " ", inner)
            if text.strip():
                names.add(normalize(text))
    return names


@pytest.fixture
def real_page_names(client_as, citizen, kb):
    names = set()
    for name in ("home", "login", "accounts:signup", "accounts:link_sent"):
        names |= visible_names(Client().get(reverse(name)).content.decode())
    client = client_as(citizen)
    for name in CITIZEN_PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        names |= visible_names(response.content.decode())
    names |= visible_names(render_to_string("registration/locked.html"))
    return names


def chatbot_texts() -> list[tuple[str, str, bool]]:
    """(where, text, about another site) for every answer the chatbot can give."""
    data = json.loads(KB_PATH.read_text())
    texts = [(f"smalltalk {s['slug']}", s["answer"], False) for s in data["smalltalk"]]
    for article in data["articles"]:
        body = article["body"]
        texts.append((f"article {article['slug']}", body, bool(OTHER_SITE.search(body))))
    texts.append(("DONT_KNOW_TEXT", str(knowledge_services.DONT_KNOW_TEXT), False))
    return texts


def template_texts() -> list[tuple[str, str, bool]]:
    return [
        (str(path.relative_to(ROOT)), path.read_text(), False)
        for path in sorted(TEMPLATES.rglob("*.html"))
    ]


def test_every_url_said_by_the_chatbot_or_written_in_a_template_resolves(kb):
    problems = []
    for where, text, _other in chatbot_texts() + template_texts():
        for url in URL.findall(text):
            parsed = urlparse(url)
            if parsed.scheme:
                if not parsed.netloc.endswith(EXTERNAL_DOMAINS):
                    problems.append(f"{where}: {url} (not an official address)")
                continue
            if parsed.path.startswith("/ws/"):
                # A websocket: one of the ASGI router's patterns.
                path = parsed.path.lstrip("/")
                if not any(p.pattern.match(path) for p in websocket_urlpatterns):
                    problems.append(f"{where}: {url} (no such websocket)")
                continue
            try:
                resolve(parsed.path)
            except Resolver404:
                problems.append(f"{where}: {url} (no such page)")
    assert not problems, "\n".join(problems)


def test_every_page_named_by_the_chatbot_exists(real_page_names):
    problems = []
    checked = 0
    for where, text, other_site in chatbot_texts():
        if other_site:
            continue
        for match in NAMED_PAGE.finditer(text):
            name = match.group("bold") or match.group("quoted")
            checked += 1
            if normalize(name) not in real_page_names:
                problems.append(f"{where}: « {name} »")
    assert checked >= 5  # the hand-off text and the account articles name pages
    assert not problems, "Pages named but absent from Guichet:\n" + "\n".join(problems)


def test_handoff_text_names_the_pages_where_to_write_and_be_called_back(kb, real_page_names):
    handoff = next(
        s for s in json.loads(KB_PATH.read_text())["smalltalk"] if s["slug"] == "parler-agent"
    )
    names = {
        normalize(m.group("bold") or m.group("quoted"))
        for m in NAMED_PAGE.finditer(handoff["answer"])
    }
    assert {"mes demandes", "nouvelle demande", "demander à être rappelé"} <= names


def test_named_page_detection_catches_the_reported_names(real_page_names):
    text = (
        "par écrit (rubrique **Ma messagerie**), ou par téléphone aux horaires indiqués sur la "
        "page **Formulaire de contact**"
    )
    found = [m.group("bold") for m in NAMED_PAGE.finditer(text)]
    assert found == ["Ma messagerie", "Formulaire de contact"]
    assert not {normalize(n) for n in found} & real_page_names
