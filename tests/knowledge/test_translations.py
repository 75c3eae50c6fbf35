"""English versions of articles: review workflow, language detection, chatbot and FAQ page."""

import json
from pathlib import Path

import pytest

from knowledge import demo, engine, services
from knowledge.evalset import DEV_PATH, read_dataset
from knowledge.lexicon import detect_language
from knowledge.models import Article, ArticleTranslation
from knowledge.services.chatbot import ENGLISH_FOUND, ENGLISH_NOTE

API = "/api/chatbot/messages"
EDITOR = "/console/connaissances/gestion/knowledge/article/{}/change/"


def ask(client, message):
    return client.post(API, data=json.dumps({"message": message}), content_type="application/json")


def english(slug, status=ArticleTranslation.Status.REVIEWED, **fields):
    article = Article.objects.get(slug=slug)
    translation = ArticleTranslation(
        article=article,
        title=fields.get("title", "Replace a lost carte Vitale"),
        body=fields.get("body", "Order a new card from your ameli account.\n\nMore."),
        status=status,
    )
    return services.save_translation(translation)


# --- review workflow ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_only_a_reviewed_translation_is_shown_and_records_its_review(kb, supervisor):
    draft = english("carte-vitale-perdue", ArticleTranslation.Status.DRAFT)
    article = draft.article
    assert services.english_version(article) is None
    assert draft.reviewed_at is None
    draft.status = ArticleTranslation.Status.REVIEWED
    services.save_translation(draft, author=supervisor)
    shown = services.english_version(article)
    assert shown is not None and shown.reviewed_by == supervisor
    assert shown.reviewed_at is not None and shown.source_version == article.version


@pytest.mark.django_db
def test_a_new_french_body_sends_the_translation_back_to_review(kb, supervisor):
    translation = english("carte-vitale-perdue")
    article = translation.article
    services.attach_questions(article, ["ma carte verte a disparu"], author=supervisor)
    assert services.english_version(article) is not None  # questions only: still valid
    article.refresh_from_db()
    article.body += "\n\nNouveau délai : deux semaines."
    services.save_article(article, author=supervisor)
    translation.refresh_from_db()
    assert translation.status == ArticleTranslation.Status.DRAFT
    assert services.english_version(article) is None


@pytest.mark.django_db
def test_the_database_refuses_a_reviewed_translation_without_review_date(kb):
    from django.db import IntegrityError

    article = Article.objects.get(slug="payer-impot")
    with pytest.raises(IntegrityError):
        ArticleTranslation.objects.create(
            article=article, title="Pay", body="Pay.", status=ArticleTranslation.Status.REVIEWED
        )


def _editor_data(article, **translation):
    data = {
        "title": article.title,
        "slug": article.slug,
        "topic": article.topic_id,
        "audience": "public",
        "status": "published",
        "owner": "",
        "body": article.body,
        "questions": "\n".join(article.questions),
        "keywords": "\n".join(article.keywords),
        "review_date": "",
        "expiry_date": "",
        "translations-TOTAL_FORMS": "1",
        "translations-INITIAL_FORMS": "0",
        "translations-MIN_NUM_FORMS": "0",
        "translations-MAX_NUM_FORMS": "1",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    data.update({f"translations-0-{k}": v for k, v in translation.items()})
    return data


@pytest.mark.django_db
def test_the_owner_writes_and_reviews_the_english_version_in_the_editor(
    supervisor, client_as, kb_with_personas
):
    article = Article.objects.get(slug="payer-impot")  # "impots": a service of the supervisor
    client = client_as(supervisor)
    page = client.get(EDITOR.format(article.pk)).content.decode()
    assert "translations-TOTAL_FORMS" in page
    data = _editor_data(
        article, language="en", title="Pay your tax", body="Pay online.", status="draft"
    )
    response = client.post(EDITOR.format(article.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    translation = ArticleTranslation.objects.get(article=article)
    assert translation.status == "draft" and translation.reviewed_by is None
    data = _editor_data(article, language="en", title="Pay your tax", body="Pay online.")
    data.update(
        {
            "translations-INITIAL_FORMS": "1",
            "translations-0-id": translation.pk,
            "translations-0-article": article.pk,
            "translations-0-status": "reviewed",
        }
    )
    assert client.post(EDITOR.format(article.pk), data).status_code == 302
    translation.refresh_from_db()
    assert translation.status == "reviewed" and translation.reviewed_by == supervisor
    assert article.version == translation.source_version


@pytest.mark.django_db
def test_a_supervisor_cannot_translate_another_services_article(
    supervisor, client_as, kb_with_personas
):
    foreign = Article.objects.get(slug="carte-vitale-perdue")  # "sante": service B
    data = _editor_data(foreign, language="en", title="Lost card", body="x", status="reviewed")
    response = client_as(supervisor).post(EDITOR.format(foreign.pk), data)
    assert response.status_code in (302, 404)
    assert not ArticleTranslation.objects.filter(article=foreign).exists()


# --- language of a message -----------------------------------------------------------------------
# Out-of-scope rows of the dev set written in English (the others have style "en").
ENGLISH_OUT_OF_SCOPE = {
    "what's the weather like in Paris",
    "who won the football match",
    "where is the nearest train station",
    "what time does the football match start tonight",
    "my phone screen is broken where can I repair it",
}


def test_language_detection_on_the_dev_set():
    """Dev split only (the test split stays frozen): 101 English rows, 427 French ones."""
    scores = {"en": [0, 0], "fr": [0, 0]}
    for row in read_dataset(DEV_PATH):
        want = "en" if row.style == "en" or row.q in ENGLISH_OUT_OF_SCOPE else "fr"
        scores[want][0] += detect_language(row.q) == want
        scores[want][1] += 1
    assert scores["en"][1] >= 60 and scores["fr"][1] >= 250
    assert scores["en"][0] / scores["en"][1] >= 0.95  # measured: 100 / 101
    assert scores["fr"][0] == scores["fr"][1]  # a French message never gets English


# --- chatbot -----------------------------------------------------------------------------------
@pytest.fixture
def citizen_client(citizen, client_as, kb):
    return client_as(citizen)


@pytest.mark.django_db
def test_an_english_question_gets_the_reviewed_english_version(citizen_client):
    english("carte-vitale-perdue")
    data = ask(citizen_client, "I lost my health insurance card").json()
    assert data["outcome"] == "answered" and data["language"] == "en"
    assert data["article"]["slug"] == "carte-vitale-perdue"
    assert data["article"]["title"] == "Replace a lost carte Vitale"
    assert data["article"]["summary"].startswith("Order a new card")
    assert data["article"]["lang"] == "en"
    assert data["article"]["url"] == "/faq/articles/carte-vitale-perdue/?lang=en"
    assert data["text"] == ENGLISH_FOUND and data["text_lang"] == "en"


@pytest.mark.django_db
def test_without_english_version_the_french_answer_comes_with_a_note(citizen_client):
    english("carte-vitale-perdue", ArticleTranslation.Status.DRAFT)  # not reviewed: not shown
    data = ask(citizen_client, "I lost my health insurance card").json()
    assert data["article"]["slug"] == "carte-vitale-perdue"
    assert data["article"]["lang"] == "fr"
    assert data["article"]["title"].startswith("Remplacer une carte Vitale")
    assert data["text"] == ENGLISH_NOTE and "only available in French" in data["text"]
    assert data["text_lang"] == "en"


@pytest.mark.django_db
def test_a_french_question_keeps_the_french_answer(citizen_client):
    english("carte-vitale-perdue")
    data = ask(citizen_client, "j'ai perdu ma carte vitale").json()
    assert data["language"] == "fr" and data["article"]["lang"] == "fr"
    assert data["article"]["title"].startswith("Remplacer une carte Vitale")
    assert data["text"] == "Voici ce que j'ai trouvé :" and data["text_lang"] == "fr"


@pytest.mark.django_db
def test_the_index_matches_the_english_wording_of_a_reviewed_version(kb):
    question = "where do I order a zorblax"
    assert engine.get_engine().answer(question).article_slug != "carte-vitale-perdue"
    english("carte-vitale-perdue", title="Order a zorblax")
    assert engine.get_engine().answer(question).article_slug == "carte-vitale-perdue"


# --- FAQ article page ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_article_page_in_english_interface_shows_the_english_version(client, kb):
    english("carte-vitale-perdue")
    client.cookies["django_language"] = "en"
    html = client.get("/faq/articles/carte-vitale-perdue/").content.decode()
    assert '<html lang="en"' in html
    assert "Replace a lost carte Vitale</h1>" in html
    assert "Order a new card from your ameli account." in html
    assert "only available in French" not in html


@pytest.mark.django_db
def test_article_page_without_english_version_marks_the_french_text(client, kb):
    client.cookies["django_language"] = "en"
    html = client.get("/faq/articles/payer-impot/").content.decode()
    assert "This answer is only available in French." in html
    assert '<h1 id="article-title" lang="fr">' in html
    assert '<div class="knowledge-body" lang="fr">' in html


@pytest.mark.django_db
def test_article_page_from_an_english_chatbot_answer_in_the_french_interface(client, kb):
    english("carte-vitale-perdue")
    html = client.get("/faq/articles/carte-vitale-perdue/?lang=en").content.decode()
    assert '<html lang="fr"' in html
    assert '<h1 id="article-title" lang="en">Replace a lost carte Vitale</h1>' in html
    french = client.get("/faq/articles/payer-impot/?lang=en").content.decode()
    assert '<p class="fr-notice__title" lang="en">This answer is only available in French.' in (
        french
    )
    assert 'lang="fr"' not in french.split("<article", 1)[1]  # the page is French already


# --- demo content --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_demo_loads_a_reviewed_english_version_of_every_reference_article(kb):
    data = json.loads(Path(demo.ENGLISH_PATH).read_text(encoding="utf-8"))
    reference = json.loads(Path(kb).read_text(encoding="utf-8"))["articles"]
    # The 50 reference articles (an article added to faq.json later needs its translation).
    assert set(data["articles"]) <= {a["slug"] for a in reference}
    assert len(data["articles"]) >= 50
    for entry in data["articles"].values():
        assert entry["title"].strip() and entry["body"].strip()
        assert detect_language(entry["body"]) == "en"
    assert services.load_translations(demo.ENGLISH_PATH) == len(data["articles"])
    assert services.load_translations(demo.ENGLISH_PATH) == len(data["articles"])  # idempotent
    assert ArticleTranslation.objects.filter(status="reviewed").count() == len(data["articles"])
    # Each English version keeps the French one's steps (same numbered list).
    for article in (a for a in reference if a["slug"] in data["articles"]):
        steps = [line[:3] for line in article["body"].splitlines() if line[:1].isdigit()]
        body = data["articles"][article["slug"]]["body"]
        assert steps == [line[:3] for line in body.splitlines() if line[:1].isdigit()]


@pytest.mark.django_db
def test_topic_page_in_english_lists_english_titles_and_marks_french_ones(client, kb):
    english("carte-vitale-perdue")
    client.cookies["django_language"] = "en"
    html = client.get("/faq/themes/sante/").content.decode()
    assert ">Replace a lost carte Vitale</a></h3>" in html
    assert '<h3 class="fr-card__title" lang="fr"><a href="/faq/articles/ceam/">' in html
    client.cookies["django_language"] = "fr"
    html = client.get("/faq/themes/sante/").content.decode()
    listing = html.split('class="knowledge-list"', 1)[1].split("</ul>", 1)[0]
    assert "Replace a lost carte Vitale" not in listing and "lang=" not in listing


def test_english_are_is_not_read_as_the_french_unemployment_allowance():
    """ "ARE" (allocation d'aide au retour à l'emploi) is a French abbreviation the engine
    writes out; in an English message "are" is the verb, and "what are the steps" must not
    bring the unemployment articles in."""
    from knowledge import evalset, evaluation
    from knowledge import text as T

    from .conftest import KB_PATH

    assert T.ENGLISH_HOMOGRAPHS.issubset(T.ABBREVIATIONS)
    assert T.without_english_homographs("What are the steps? ARE") == "What   the steps?  "
    docs, smalltalk = evaluation.docs_from_file(KB_PATH)
    built = evalset.engine_for(docs, smalltalk, evaluation.lexicon_from_file(KB_PATH))
    english = built.answer("What are the steps to get a passport?")
    assert english.language == "en" and english.article_slug == "passeport-demande"
    # Written by a French speaker, the abbreviation still means the allowance.
    french = built.answer("quand est versée mon ARE ?")
    assert french.language == "fr" and french.article_slug == "paiement-allocations"
