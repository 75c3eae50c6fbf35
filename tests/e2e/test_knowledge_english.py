"""Real browser: an English question gets the article's reviewed English version, or the French
one with a note; every text is marked with its language (RGAA 8.7) and the pages pass axe-core."""

import re

from playwright.sync_api import expect

SLUG = "carte-vitale-perdue"
ENGLISH_TITLE = re.compile("Replace a lost, stolen or damaged carte Vitale")


def ask(page, question: str) -> None:
    page.get_by_label("Votre question").fill(question)
    page.get_by_role("button", name="Envoyer").click()


def set_review(e2e_server, status: str) -> None:
    e2e_server.shell(
        "from knowledge.models import ArticleTranslation as T; "
        f"T.objects.filter(article__slug='{SLUG}').update(status='{status}')"
    )


def test_chatbot_answers_in_english_or_in_french_with_a_note(
    new_page, check_a11y, demo, e2e_server
):
    page = new_page(demo.citizen2)
    page.goto("/assistant/")
    log = page.get_by_role("log")

    ask(page, "I lost my health insurance card, how do I get a new one?")
    answer = log.locator(".knowledge-chat__msg--bot").nth(1)
    english = answer.get_by_role("link", name=ENGLISH_TITLE)
    expect(english).to_be_visible(timeout=30_000)  # the first answer builds the index
    expect(answer.locator("p[lang='en']").first).to_have_text("Here is what I found:")
    expect(answer.locator(".knowledge-chat__article p[lang='en']")).to_have_count(2)

    set_review(e2e_server, "draft")  # back to review: English questions get the French text
    try:
        ask(page, "my health insurance card was stolen, what should I do")
        french = log.locator(".knowledge-chat__msg--bot").nth(2)
        expect(french).to_contain_text("only available in French")
        expect(french.locator(".knowledge-chat__article p[lang='fr']")).to_have_count(2)
        expect(
            french.get_by_role("link", name=re.compile("Remplacer une carte Vitale"))
        ).to_be_visible()
        check_a11y(page)  # both answers: English, then French with the note
    finally:
        set_review(e2e_server, "reviewed")


def test_faq_article_in_english_or_french_with_a_note(new_page, check_a11y, e2e_server):
    page = new_page()
    # From the French interface, the chatbot's English link shows the version marked lang="en".
    page.goto(f"/faq/articles/{SLUG}/?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.locator("h1[lang='en']")).to_have_text(ENGLISH_TITLE)
    expect(page.locator(".knowledge-body[lang='en']")).to_contain_text("ameli account")
    check_a11y(page)

    # The English interface (the header's language switch): the English version, no note.
    page.goto(f"/faq/articles/{SLUG}/")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1, name=ENGLISH_TITLE)).to_be_visible()
    expect(page.locator("#article-only-french")).to_have_count(0)

    set_review(e2e_server, "draft")  # not reviewed: the French text, marked, with the note
    try:
        page.reload()
        expect(page.locator("#article-only-french")).to_contain_text(
            "This answer is only available in French."
        )
        expect(page.locator("h1[lang='fr']")).to_contain_text("Remplacer une carte Vitale")
        check_a11y(page)
    finally:
        set_review(e2e_server, "reviewed")
