"""Layout and console hygiene in a real Chromium: no control cut or overlapped at 320 px and at
200 % zoom on the main pages of each role (check_a11y runs layout_check.js at both sizes), the
chatbot's buttons whole, the co-browsing entry point in the flow, no list marker beside message
bubbles, and only agents open the presence socket (supervisors and admins log no error)."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def _case_reference(e2e_server, email: str, service: str = "fiscalite") -> str:
    return e2e_server.shell_json(
        "from contactcenter.models import Case\n"
        f"result = Case.objects.filter(citizen__email='{email}', service__code='{service}')"
        ".order_by('id').values_list('reference', flat=True).first()\n"
    )


def test_citizen_pages_have_no_cut_or_overlapped_control(new_page, check_a11y, demo, e2e_server):
    page = new_page(demo.citizen)
    reference = _case_reference(e2e_server, demo.citizen)
    for url in (
        "/espace/",
        f"/espace/demandes/{reference}/",
        "/espace/historique/",
        "/espace/acces/",
        "/assistant/",
        "/faq/",
    ):
        page.goto(url)
        check_a11y(page)


def test_chatbot_buttons_are_whole_and_remote_help_covers_nothing(new_page, demo):
    page = new_page(demo.citizen, viewport={"width": 640, "height": 450})  # 1280 × 900 at 200 %
    page.goto("/assistant/")
    for width in (640, 320):
        page.set_viewport_size({"width": width, "height": 640})
        send = page.get_by_role("button", name="Envoyer")
        reset = page.get_by_role("button", name="Nouvelle conversation")
        for button in (send, reset):
            whole = button.evaluate("b => b.scrollWidth <= b.clientWidth")
            assert whole, f"{button} is cut at {width} px"
            # Nothing on top of the button where one clicks it.
            button.scroll_into_view_if_needed()
            on_top = button.evaluate(
                "b => { const r = b.getBoundingClientRect();"
                " const e = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
                " return b === e || b.contains(e); }"
            )
            assert on_top, f"{button} is covered at {width} px"
        # The remote-help entry point sits in the page, after the content, never floating.
        entry = page.get_by_role("button", name="Aide à distance")
        expect(entry).to_be_visible()
        assert entry.evaluate("b => getComputedStyle(b.closest('aside')).position") == "static"
        assert page.evaluate(
            "() => { const e = document.getElementById('cobrowse-entry-button');"
            " const main = document.querySelector('main');"
            " return e.getBoundingClientRect().top >= main.getBoundingClientRect().bottom; }"
        )


def test_message_bubbles_have_no_list_numbers_or_bullets(new_page, demo, e2e_server):
    reference = _case_reference(e2e_server, demo.citizen)
    citizen = new_page(demo.citizen)
    citizen.goto(f"/espace/demandes/{reference}/")
    agent = new_page(demo.agent_fiscalite)
    agent.goto(f"/console/demandes/{reference}/")
    for page, selector in ((citizen, "#fil > li"), (agent, "#chronologie > li")):
        items = page.locator(selector)
        assert items.count() >= 1, selector
        markers = items.evaluate_all(
            "items => items.map(li => { const m = getComputedStyle(li, '::marker');"
            " return [m.content, getComputedStyle(li).listStyleType]; })"
        )
        for content, style in markers:
            assert content in ("none", "normal") and style == "none", (selector, content, style)
            # "normal" with list-style none draws nothing; a counter or a string would.
            assert not re.search(r"counter|\"", content)


def test_only_agents_open_the_presence_socket(new_page, demo, e2e_server):
    reference = _case_reference(e2e_server, demo.citizen)
    for email, expected in (
        (demo.supervisor, False),
        (demo.admin, False),
        (demo.agent_fiscalite, True),
    ):
        page = new_page(email)
        sockets: list[str] = []
        page.on("websocket", lambda ws, sockets=sockets: sockets.append(ws.url))
        for url in (f"/console/demandes/{reference}/", "/console/connaissances/", "/console/"):
            page.goto(url)
            page.wait_for_load_state("load")
        # presence.js connects at once; a refused socket used to retry within seconds.
        page.wait_for_timeout(2500)
        opened = any("/ws/presence/" in url for url in sockets)
        assert opened is expected, (email, sockets)
    # Any console error (a refused socket logs one) fails the test at teardown.
