"""Co-browsing in real Chromium, two browser contexts: the citizen and the agent.

The citizen gets a code, the agent enters it, the citizen accepts; the agent's replay shows the
citizen's page; what the citizen types never reaches the agent (frames and replay DOM); the
agent's pointer appears on the citizen's page near the right element; a click from the agent
does nothing on the citizen's page; the citizen stops and the agent's view closes.
"""

import re
import time
from urllib.parse import urlparse

from playwright.sync_api import expect

from .conftest import settle_animations

TYPED = "07 99 88 77 66"
TYPED_PIECES = ("99 88", "0799", "887766", "77 66")


def _collect_frames(page) -> list[str]:
    """Every websocket frame the page receives (the agent: what left the citizen's page)."""
    frames: list[str] = []

    def on_socket(ws):
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    return frames


def _replay(agent):
    """The rebuilt page: rrweb's iframe inside the player document (cobrowse:player)."""
    return agent.frame_locator("#cobrowse-stage iframe").frame_locator("iframe")


def test_citizen_shares_screen_with_agent_who_only_points(new_page, check_a11y, demo, e2e_server):
    # A wider screen than the agent's: the replay is scaled down, the pointer must still agree.
    citizen = new_page(demo.citizen, viewport={"width": 1440, "height": 900})
    citizen.goto("/espace/")
    check_a11y(citizen)

    # The citizen opens « Aide à distance » and gets a code.
    citizen.get_by_role("button", name="Aide à distance").click()
    dialog = citizen.get_by_role("dialog", name="Aide à distance")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=re.compile("Obtenir un code")).click()
    digits = dialog.locator("[data-cobrowse-code]")
    expect(digits).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    settle_animations(dialog)
    check_a11y(citizen)
    code = digits.inner_text().replace(" ", "")

    # The agent enters it.
    agent = new_page(demo.agent_fiscalite)
    frames = _collect_frames(agent)
    agent.goto("/aide-a-distance/agent/")
    check_a11y(agent)
    agent.get_by_label("Code communiqué par l'usager").fill(code)
    agent.get_by_role("button", name="Rejoindre").click()
    agent.wait_for_url(re.compile(r"/aide-a-distance/session/[0-9a-f-]+/$"))
    expect(agent.locator("#cobrowse-status")).to_contain_text("En attente de l’accord")

    # The citizen sees who is asking and must accept; nothing is shared before.
    consent = citizen.get_by_role("dialog", name="Partager votre écran ?")
    expect(consent).to_be_visible()
    expect(consent).to_contain_text("Alice, de Pôle fiscalité et titres")
    check_a11y(citizen)
    assert not any('"rrweb"' in frame for frame in frames)
    consent.get_by_role("button", name="Accepter").click()
    banner = citizen.get_by_role("region", name="Un agent voit votre écran")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("button", name="Arrêter le partage")).to_be_visible()

    # The agent's replay shows the citizen's page.
    replay = _replay(agent)
    expect(replay.get_by_role("heading", name="Mes demandes", level=1)).to_be_visible()
    expect(agent.locator("[data-cobrowse-page]")).to_have_text("/espace/")
    check_a11y(agent)

    # The session follows the citizen to another page.
    citizen.goto("/espace/preferences/")
    expect(banner).to_be_visible()
    expect(replay.get_by_role("heading", name="Mes préférences d'alerte", level=1)).to_be_visible()
    expect(agent.locator("[data-cobrowse-page]")).to_have_text("/espace/preferences/")
    check_a11y(citizen)

    # What the citizen types never reaches the agent: not in a frame, not in the replay.
    phone = citizen.get_by_label("Téléphone mobile")
    phone.fill("")
    phone.press_sequentially(TYPED, delay=20)
    replay_phone = replay.locator("input[name=mobile_phone]")
    expect(replay_phone).to_have_value(re.compile(rf"^\*{{{len(TYPED)}}}$"))
    assert phone.input_value() == TYPED
    # Session ids and timestamps are random digits: they could spell a piece by chance.
    received = re.sub(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<=[:,\[])\d{10,}(?=[,\]}])",
        "",
        "\n".join(frames),
    )
    for piece in TYPED_PIECES + ("33612345678", "0612345678"):
        assert piece not in received, piece
    replay_html = replay.locator("html").evaluate("(el) => el.outerHTML")
    replay_values = replay.locator("input").evaluate_all("(els) => els.map((e) => e.value)")
    for piece in TYPED_PIECES:
        assert piece not in replay_html and not any(piece in v for v in replay_values)

    # The agent points at the heading: the pointer appears on the citizen's page next to it.
    target = replay.get_by_role("heading", name="Mes préférences d'alerte", level=1)
    box = target.bounding_box()
    agent.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
    pointer = citizen.locator(".guichet-cobrowse-pointer")
    expect(pointer).to_be_visible()
    expect(pointer).to_contain_text("Alice")
    heading = citizen.get_by_role(
        "heading", name="Mes préférences d'alerte", level=1
    ).bounding_box()
    tip = pointer.bounding_box()
    assert heading["x"] - 2 <= tip["x"] <= heading["x"] + heading["width"] + 2
    assert heading["y"] - 2 <= tip["y"] <= heading["y"] + heading["height"] + 2
    # Near the right spot inside it: 30 % across, half-way down (citizen and agent sizes differ).
    assert abs(tip["x"] - (heading["x"] + heading["width"] * 0.3)) < 12
    assert abs(tip["y"] - (heading["y"] + heading["height"] * 0.5)) < 12

    # A click from the agent only highlights: no navigation, no click, no typing on the page.
    citizen.evaluate(
        "() => { window.__clicks = 0;"
        " document.addEventListener('click', () => window.__clicks++, true); }"
    )
    link = replay.get_by_role("navigation", name="Menu principal").get_by_role("link").first
    link_box = link.bounding_box()
    agent.mouse.click(link_box["x"] + 3, link_box["y"] + 3)
    highlight = citizen.locator(".guichet-cobrowse-highlight")
    expect(highlight).to_be_visible()
    shown = highlight.bounding_box()
    nav_link = citizen.get_by_role("navigation", name="Menu principal").get_by_role("link").first
    real = nav_link.bounding_box()
    assert abs(shown["x"] + 4 - real["x"]) < 3 and abs(shown["y"] + 4 - real["y"]) < 3
    agent.locator("#cobrowse-stage").evaluate("(el) => el.scrollIntoView({block: 'end'})")
    save_box = replay.get_by_role("button", name="Enregistrer").bounding_box()
    agent.mouse.click(save_box["x"] + 5, save_box["y"] + 5)
    agent.keyboard.type("piratage")
    citizen.wait_for_timeout(500)
    assert citizen.url.endswith("/espace/preferences/")
    assert citizen.evaluate("() => window.__clicks") == 0
    assert phone.input_value() == TYPED
    assert agent.url.endswith(f"/aide-a-distance/session/{_session_id(agent)}/")

    # The citizen stops sharing: the banner goes and the agent's view closes.
    banner.get_by_role("button", name="Arrêter le partage").click()
    expect(banner).to_be_hidden()
    expect(agent.locator("#cobrowse-status")).to_contain_text("Session terminée")
    expect(agent.locator("#cobrowse-stage iframe")).to_have_count(0)
    expect(agent.get_by_role("button", name="Terminer la session")).to_be_hidden()
    check_a11y(agent)
    check_a11y(citizen)

    # The session is on the case timeline: who, how long, which pages; nothing of the page.
    record = e2e_server.shell_json(
        "from contactcenter.models import Event\n"
        "e = Event.objects.filter(type='cobrowse').latest('id')\n"
        "result = {'payload': e.payload, 'citizen': e.citizen.email, 'body': e.body,"
        " 'actor': e.actor.email}\n"
    )
    assert record["citizen"] == demo.citizen
    assert record["actor"] == demo.agent_fiscalite
    assert record["payload"]["pages"] == ["/espace/", "/espace/preferences/"]
    assert record["payload"]["end_reason"] == "citizen"
    assert record["payload"]["duration_seconds"] >= 0
    for piece in TYPED_PIECES:
        assert piece not in str(record)

    # And it is in « Mon historique ».
    citizen.goto("/espace/historique/")
    expect(citizen.locator("main")).to_contain_text("Aide à distance")


def _reload_until(page, selector: str, text: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in page.locator(selector).inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(250)
        page.reload()
    expect(page.locator(selector)).to_contain_text(text)


def _session_id(agent) -> str:
    return agent.locator("#cobrowse-viewer").get_attribute("data-session")


def test_agent_invitation_needs_the_citizen_online_and_can_be_declined(
    new_page, check_a11y, demo, e2e_server
):
    reference = e2e_server.shell_json(
        "from contactcenter.models import Case\n"
        f"result = Case.objects.filter(citizen__email='{demo.citizen2}',"
        " service__code='fiscalite').order_by('-id').values_list('reference', flat=True).first()\n"
    )
    assert reference, "the demo has a fiscalité case for the second citizen"
    agent = new_page(demo.agent_fiscalite2)
    agent.goto(f"/console/demandes/{reference}/")
    invite = agent.get_by_role("button", name="Inviter à partager l’écran")

    # Offline: the button says so, and trying anyway explains what to do instead.
    expect(agent.locator(".guichet-cobrowse-invite")).to_contain_text("Hors ligne")
    invite.click()
    expect(agent.locator(".guichet-messages")).to_contain_text(
        "Louis Bernard n'est pas connecté(e) à son espace"
    )
    assert f"/console/demandes/{reference}/" in agent.url
    check_a11y(agent)

    # Online: the invitation pops up on the citizen's page, who declines.
    citizen = new_page(demo.citizen2)
    citizen.goto("/espace/")
    # The citizen's page announces itself over its websocket once connected: the agent's page
    # shows presence as of its own loading, so reload until the announcement has landed.
    _reload_until(agent, ".guichet-cobrowse-invite", "En ligne")
    invite.click()
    agent.wait_for_url(re.compile(r"/aide-a-distance/session/[0-9a-f-]+/$"))
    expect(agent.locator("#cobrowse-status")).to_contain_text("En attente de l’accord")
    consent = citizen.get_by_role("dialog", name="Partager votre écran ?")
    expect(consent).to_be_visible()
    expect(consent).to_contain_text("Marc, de Pôle fiscalité et titres")
    check_a11y(citizen)
    consent.get_by_role("button", name="Refuser").click()
    expect(consent).to_be_hidden()
    expect(agent.locator("#cobrowse-status")).to_contain_text("Session terminée")
    expect(agent.locator("#cobrowse-status")).to_contain_text("refusée par l'usager")
    expect(citizen.get_by_role("region", name="Un agent voit votre écran")).to_be_hidden()
    check_a11y(agent)
    check_a11y(citizen)


# --- A hostile page: the agent's browser replays it without sending anything to Guichet ----------
HOSTILE_EVENTS_JS = """
async ([session, usager, demande]) => {
  const bad = [usager, demande];
  let id = 1;
  const el = (tag, attributes, children) =>
    ({type: 2, id: ++id, tagName: tag, attributes: attributes || {}, childNodes: children || []});
  const text = (value) => ({type: 3, id: ++id, textContent: value});
  const head = el("head", {}, [
    el("link", {rel: "stylesheet", href: location.origin + "/static/guichet/css/guichet.css"}),
    el("link", {rel: "stylesheet", href: location.origin + bad[0]}),
    el("link", {rel: "prefetch", href: location.origin + bad[1]}),
    el("meta", {"http-equiv": "refresh", content: "0; url=" + bad[0]}),
    el("base", {href: location.origin + "/console/"}),
    el("style", {}, [text("@import '" + bad[1] + "'; body { background: url(" + bad[0] + "); }")]),
  ]);
  const body = el("body", {style: "background-image: url(" + bad[1] + ")"}, [
    el("h1", {id: "piege"}, [text("Page piégée")]),
    el("img", {src: bad[0], alt: "usager", srcset: bad[1] + " 2x"}),
    el("img", {src: "x", alt: "erreur", onerror: "fetch('" + bad[0] + "')"}),
    el("picture", {}, [el("source", {srcset: bad[1]}), el("img", {src: bad[1], alt: "image"})]),
    el("script", {src: bad[0]}, [text("fetch('" + bad[1] + "')")]),
    el("form", {action: bad[0], method: "get"}, [
      el("button", {formaction: bad[1], type: "submit"}, [text("Envoyer")]),
    ]),
    el("a", {href: "javascript:fetch('" + bad[0] + "')", id: "lien"}, [text("Lien piégé")]),
    el("iframe", {src: bad[0], srcdoc: "<img src='" + bad[1] + "'>", title: "cadre"}),
    el("video", {src: bad[0], poster: bad[1]}),
    el("object", {data: bad[0]}),
    el("svg", {}, [el("image", {"xlink:href": bad[0], href: bad[1]})]),
  ]);
  const html = el("html", {lang: "fr"}, [head, body]);
  const now = Date.now();
  const snapshot = [
    {type: 4, timestamp: now,
     data: {href: location.origin + "/espace/piege/", width: 1000, height: 700}},
    {type: 2, timestamp: now + 1,
     data: {node: {type: 0, id: 1, childNodes: [html]}, initialOffset: {left: 0, top: 0}}},
  ];
  const mutation = {type: 3, timestamp: now + 2, data: {source: 0, texts: [], removes: [],
    adds: [{parentId: body.id, nextId: null, node: el("img", {src: bad[1], alt: "ajout"})},
           {parentId: body.id, nextId: null, node: el("p", {id: "ajout"}, [])}],
    attributes: [{id: body.childNodes[1].id, attributes: {src: bad[0] + "&m=1", onload: "x()"}},
                 {id: body.id,
                  attributes: {style: {"background-image": "url(" + bad[0] + ")"}}}]}};
  const added = mutation.data.adds[1].node.id;
  mutation.data.adds.push({parentId: added, nextId: null, node: text("Ajouté ensuite")});
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws/cobrowse/citizen/");
  await new Promise((resolve, reject) => {
    socket.onerror = reject;
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "started") { resolve(); }
    };
    socket.onopen = () => socket.send(JSON.stringify({type: "resume", session}));
  });
  socket.send(JSON.stringify({type: "rrweb", events: snapshot}));
  socket.send(JSON.stringify({type: "rrweb", events: [mutation]}));
  window.__hostileSocket = socket;
}
"""


def test_agent_replays_a_hostile_page_without_any_request_to_guichet(
    new_page, check_a11y, demo, e2e_server
):
    victim = e2e_server.shell_json(
        "from contactcenter.models import Case, User\n"
        f"c = Case.objects.filter(citizen__email='{demo.citizen2}')"
        ".order_by('-id').first()\n"
        f"result = {{'citizen': User.objects.get(email='{demo.citizen2}').pk,"
        " 'case': c.reference}\n"
    )
    usager = f"/console/usagers/{victim['citizen']}/?motif=Pirate"
    demande = f"/console/demandes/{victim['case']}/?motif=Pirate"
    audit_count = "from contactcenter.models import AuditLog\nresult = AuditLog.objects.count()\n"

    citizen = new_page(demo.citizen3)
    citizen.goto("/espace/")
    citizen.get_by_role("button", name="Aide à distance").click()
    dialog = citizen.get_by_role("dialog", name="Aide à distance")
    dialog.get_by_role("button", name=re.compile("Obtenir un code")).click()
    digits = dialog.locator("[data-cobrowse-code]")
    expect(digits).to_have_text(re.compile(r"^\d{3} \d{3}$"))
    agent = new_page(demo.agent_social)
    agent.goto("/aide-a-distance/agent/")
    agent.get_by_label("Code communiqué par l'usager").fill(digits.inner_text().replace(" ", ""))
    agent.get_by_role("button", name="Rejoindre").click()
    agent.wait_for_url(re.compile(r"/aide-a-distance/session/[0-9a-f-]+/$"))
    citizen.get_by_role("dialog", name="Partager votre écran ?").get_by_role(
        "button", name="Accepter"
    ).click()
    replay = _replay(agent)
    expect(replay.get_by_role("heading", name="Mes demandes", level=1)).to_be_visible()
    before = e2e_server.shell_json(audit_count)

    # From now on, every request of the agent's browser (every frame) is recorded.
    requests = []
    agent.context.on("request", lambda request: requests.append(request))
    citizen.evaluate(HOSTILE_EVENTS_JS, [_session_id(agent), usager, demande])

    # The agent sees the page, scrubbed: text kept, no script, no URL but Guichet's style sheet.
    expect(replay.get_by_role("heading", name="Page piégée", level=1)).to_be_visible()
    expect(replay.locator("#ajout")).to_have_text("Ajouté ensuite")
    expect(agent.locator("[data-cobrowse-page]")).to_have_text("/espace/piege/")
    agent.wait_for_timeout(1500)  # let anything that would load, load
    dom = replay.locator("html").evaluate("(el) => el.outerHTML")
    assert "/console/" not in dom and "javascript" not in dom and "onerror" not in dom
    assert replay.locator("script, iframe, object, meta, base").count() == 0
    assert replay.locator("img[src], source[srcset], [srcset], form[action]").count() == 0
    assert replay.locator("#lien").get_attribute("href") == "#"
    assert replay.locator("link[rel=stylesheet]").evaluate_all(
        "(links) => links.map((l) => l.getAttribute('href'))"
    ) == ["/static/guichet/css/guichet.css"]
    # The replay document cannot run scripts: rrweb's iframe is sandboxed without allow-scripts.
    sandbox = (
        agent.frame_locator("#cobrowse-stage iframe").locator("iframe").get_attribute("sandbox")
    )
    assert sandbox == "allow-same-origin"
    assert agent.locator("#cobrowse-stage iframe").get_attribute("credentialless") == ""
    # The player runs without the agent's cookies (credentialless): it does not even see them.
    player = next(frame for frame in agent.frames if "/aide-a-distance/lecteur/" in frame.url)
    assert "csrftoken" in agent.evaluate("() => document.cookie")
    assert player.evaluate("() => document.cookie") == ""

    # No request to Guichet but its static files, and none carries the agent's session cookie.
    for request in requests:
        path = urlparse(request.url).path
        assert path.startswith("/static/"), request.url
        assert "sessionid" not in (request.all_headers().get("cookie") or ""), request.url
    assert e2e_server.shell_json(audit_count) == before
    check_a11y(agent)
