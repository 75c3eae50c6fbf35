"""A video tutorial in a real browser: captions and transcript, the views measured, and the
supervisor's "views versus messages" table on the dashboard."""

from __future__ import annotations

ARTICLE = "/faq/articles/declaration-revenus-en-ligne/"
TITLE = "Déclarer ses revenus en ligne, pas à pas"


def test_a_tutorial_is_watched_and_its_views_reach_the_dashboard(new_page, check_a11y, demo):
    page = new_page()
    page.goto(ARTICLE)
    figure = page.locator("[data-tutorial]")
    assert "Transcription textuelle" in figure.inner_text()
    assert page.locator("video track[kind=captions]").get_attribute("srclang") == "fr"
    check_a11y(page)
    # The captions are loaded by the browser from their WebVTT file.
    page.wait_for_function(
        "() => { const t = document.querySelector('video').textTracks[0];"
        " return t && t.mode === 'showing' && t.cues && t.cues.length === 3; }",
        timeout=10_000,
    )
    # Play to the end, fast: start, half-way and completion are each counted once.
    page.evaluate(
        "() => { const v = document.querySelector('video'); v.muted = true;"
        " v.playbackRate = 4; return v.play(); }"
    )
    page.wait_for_function(
        "() => (document.querySelector('[data-tutorial]').dataset.counted || '')"
        ".includes('complete')",
        timeout=15_000,
    )
    assert set(figure.get_attribute("data-counted").split(",")) == {"start", "half", "complete"}

    supervisor = new_page(demo.supervisor)
    supervisor.goto("/supervision/tableau-de-bord/")
    table = supervisor.locator("table", has_text="Vues des tutoriels et messages reçus")
    row = table.locator("tr", has_text=TITLE)
    cells = row.locator("td").all_inner_texts()
    assert cells[1:3] == ["1", "1"], cells  # one view, one complete view
    check_a11y(supervisor)
