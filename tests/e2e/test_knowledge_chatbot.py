"""Real browser: the citizen asks the assistant two questions it cannot answer and is offered a
human; the FAQ and the assistant pages pass axe-core; agents get canned answers."""

import re

import pytest
from playwright.sync_api import expect


def ask(page, question: str) -> None:
    page.get_by_label("Votre question").fill(question)
    page.get_by_role("button", name="Envoyer").click()


def test_two_unanswerable_questions_offer_a_human(new_page, check_a11y, demo):
    page = new_page(demo.citizen)
    page.goto("/assistant/")
    expect(page.get_by_role("heading", level=1, name="Assistant virtuel")).to_be_visible()
    check_a11y(page)
    log = page.get_by_role("log")

    ask(page, "Quel temps fera-t-il demain à Marseille ?")
    expect(log.locator(".knowledge-chat__msg--bot")).to_have_count(2)
    expect(log).to_contain_text("reformuler")
    expect(log.get_by_role("link", name=re.compile("message sécurisé"))).to_have_count(0)

    ask(page, "Donne-moi une recette de crêpes bretonnes")
    expect(log.locator(".knowledge-chat__msg--bot")).to_have_count(3)
    handoff = log.locator(".knowledge-chat__handoff")
    expect(handoff).to_have_count(1)
    expect(handoff).to_contain_text("Échanger avec un conseiller")
    message_link = handoff.get_by_role("link", name=re.compile("message sécurisé"))
    expect(message_link).to_be_visible()
    expect(handoff.get_by_role("link", name=re.compile("rappelé"))).to_be_visible()
    check_a11y(page)

    # Following the offer leads to the new-request form, with the conversation attached.
    message_link.click()
    page.wait_for_url(re.compile(r"/espace/demandes/nouvelle/\?.*chatbot=\d+"))
    check_a11y(page)


def test_chatbot_answers_with_an_article_and_can_be_rated(new_page, check_a11y, demo):
    page = new_page(demo.citizen2)
    page.goto("/assistant/")
    ask(page, "jai paumé ma carte vital, comment en avoir une autre ?")
    log = page.get_by_role("log")
    article = log.get_by_role("link", name=re.compile("Remplacer une carte Vitale"))
    expect(article).to_be_visible()
    thumbs_up = log.get_by_role("button", name="Cette réponse m'a aidé")
    thumbs_up.click()
    expect(thumbs_up).to_have_attribute("aria-pressed", "true")
    expect(log).to_contain_text("Merci pour votre avis")
    check_a11y(page)
    # Another administration's subject: where to go instead, with its site.
    ask(page, "comment je fais ma demande d'APL pour mon studio ?")
    expect(log).to_contain_text("Les aides au logement (APL, ALS, ALF) sont versées par la CAF")
    expect(log.get_by_role("link", name="CAF ou MSA")).to_have_attribute(
        "href", "https://www.caf.fr/"
    )
    check_a11y(page)
    # an empty question gets a precise message, nothing is sent
    page.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#chatbot-messages")).to_contain_text("Écrivez votre question")
    check_a11y(page)
    article.click()
    page.wait_for_url(re.compile(r"/faq/articles/carte-vitale-perdue/"))
    check_a11y(page)


def test_faq_pages_are_accessible_and_searchable(new_page, check_a11y):
    page = new_page()
    page.goto("/faq/")
    expect(page.get_by_role("heading", level=1, name="Questions fréquentes")).to_be_visible()
    check_a11y(page)
    page.get_by_role("link", name="Vie étudiante").first.click()
    expect(page.get_by_role("heading", level=1, name="Vie étudiante")).to_be_visible()
    check_a11y(page)
    search = page.get_by_role("searchbox", name="Rechercher dans la foire aux questions")
    search.fill("bourse pas versée")
    search.press("Enter")
    expect(page.get_by_role("link", name="Ma bourse n'est pas encore versée")).to_be_visible()
    check_a11y(page)


@pytest.mark.parametrize("path", ["/console/connaissances/?q=carte+vitale", "/console/diagnostic/"])
def test_agent_knowledge_pages_are_accessible(new_page, check_a11y, demo, path):
    page = new_page(demo.agent_social)
    page.goto(path)
    expect(page.locator("h1")).to_be_visible()
    check_a11y(page)


def test_agent_walks_a_guided_diagnosis(new_page, check_a11y, demo, e2e_server):
    reference = e2e_server.shell_json(
        "from contactcenter.models import Case\n"
        "result = Case.objects.filter(topic__slug='sante').order_by('id').first().reference"
    )
    page = new_page(demo.agent_social)
    page.goto(f"/console/diagnostic/?case={reference}")
    page.get_by_role("link", name="Carte Vitale perdue, volée ou qui ne fonctionne plus").click()
    page.get_by_role("link", name="Elle est abîmée ou ne fonctionne plus").click()
    expect(page.get_by_role("heading", level=2, name=re.compile("Issue"))).to_be_visible()
    check_a11y(page)
    page.get_by_role("button", name="Enregistrer le parcours sur la demande").click()
    page.wait_for_url(re.compile(rf"/console/demandes/{reference}/"))
    saved = e2e_server.shell_json(
        "from contactcenter.models import Event\n"
        f"result = Event.objects.filter(case__reference='{reference}', type='diagnosis').count()"
    )
    assert saved == 1


def test_agent_inserts_a_canned_answer_in_the_reply_box(new_page, check_a11y, demo, e2e_server):
    reference = e2e_server.shell_json(
        "from contactcenter.models import Case\n"
        "result = Case.objects.filter(topic__slug='impots').exclude(status='closed')"
        ".order_by('id').first().reference"
    )
    page = new_page(demo.agent_fiscalite)
    page.goto(f"/console/demandes/{reference}/")
    reply = page.locator("#reply-body")
    expect(reply).to_be_visible()
    page.get_by_label("Rechercher une réponse type").fill("changement d'adresse impots")
    insert = page.get_by_role("button", name=re.compile("Insérer la réponse"))
    expect(insert.first).to_be_visible()
    insert.first.click()
    expect(reply).to_have_value(re.compile(r"espace particulier", re.S))
    expect(reply).to_have_value(re.compile(r"/faq/articles/"))
    check_a11y(page)


def test_contact_form_suggests_answers_and_this_answer_is_enough(
    new_page, check_a11y, demo, e2e_server
):
    count = (
        "from contactcenter.models import Case\n"
        f"result = Case.objects.filter(citizen__email='{demo.citizen3}').count()"
    )
    before = e2e_server.shell_json(count)
    page = new_page(demo.citizen3)
    page.goto("/espace/demandes/nouvelle/?topic=sante&kind=question")
    page.get_by_label("Objet").fill("J'ai perdu ma carte vitale")
    suggestions = page.locator("#suggestions")
    expect(
        suggestions.get_by_role("link", name=re.compile("Remplacer une carte Vitale"))
    ).to_be_visible()
    check_a11y(page)
    suggestions.get_by_role("button", name=re.compile("Cette réponse me suffit")).first.click()
    page.wait_for_url(re.compile(r"/espace/$"))
    expect(page.locator("main")).to_contain_text("Aucune demande n'a été envoyée")
    check_a11y(page)
    assert e2e_server.shell_json(count) == before
    recorded = e2e_server.shell_json(
        "from knowledge.models import DeflectionEvent\n"
        f"result = DeflectionEvent.objects.filter(user__email='{demo.citizen3}', kind='sufficient')"
        ".count()"
    )
    assert recorded == 1
