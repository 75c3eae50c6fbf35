import pytest

from knowledge.models import Article


@pytest.mark.django_db
def test_supervisor_edits_articles_of_their_services_in_the_editor(
    supervisor, client_as, kb_with_personas
):
    client = client_as(supervisor)
    index = client.get("/console/connaissances/gestion/")
    assert index.status_code == 200
    listing = client.get("/console/connaissances/gestion/knowledge/article/").content.decode()
    assert "Payer son impôt" in listing  # impots belongs to service A
    assert "Remplacer une carte Vitale" not in listing  # sante belongs to service B
    foreign = Article.objects.get(slug="carte-vitale-perdue")
    assert client.get(
        f"/console/connaissances/gestion/knowledge/article/{foreign.pk}/change/"
    ).status_code in (302, 404)


@pytest.mark.django_db
def test_editing_content_bumps_version_and_keeps_history(supervisor, client_as, kb_with_personas):
    article = Article.objects.get(slug="payer-impot")
    client = client_as(supervisor)
    url = f"/console/connaissances/gestion/knowledge/article/{article.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "knowledge-md-preview" in html and "knowledge/js/admin_preview.js" in html
    data = {
        "title": article.title,
        "slug": article.slug,
        "topic": article.topic_id,
        "audience": "public",
        "status": "published",
        "owner": "",
        "body": article.body + "\n\nNouveau paragraphe.",
        "questions": "\n".join(article.questions),
        "keywords": "\n".join(article.keywords),
        "review_date": "2027-03-01",
        "expiry_date": "",
        "translations-TOTAL_FORMS": "0",
        "translations-INITIAL_FORMS": "0",
        "translations-MIN_NUM_FORMS": "0",
        "translations-MAX_NUM_FORMS": "1",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    article.refresh_from_db()
    assert article.version == 2
    assert article.body.endswith("Nouveau paragraphe.")
    assert article.questions[0] == "Comment payer mes impôts ?"
    assert list(article.versions.values_list("number", "author__email")) == [
        (2, "superviseur@guichet.example.fr"),
        (1, None),
    ]


@pytest.mark.django_db
def test_review_date_after_expiry_is_refused(supervisor, client_as, kb_with_personas):
    article = Article.objects.get(slug="payer-impot")
    url = f"/console/connaissances/gestion/knowledge/article/{article.pk}/change/"
    data = {
        "title": article.title,
        "slug": article.slug,
        "topic": article.topic_id,
        "audience": "public",
        "status": "published",
        "owner": "",
        "body": article.body,
        "questions": "",
        "keywords": "",
        "review_date": "2027-03-01",
        "expiry_date": "2027-01-01",
        "translations-TOTAL_FORMS": "0",
        "translations-INITIAL_FORMS": "0",
        "translations-MIN_NUM_FORMS": "0",
        "translations-MAX_NUM_FORMS": "1",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }
    response = client_as(supervisor).post(url, data)
    assert response.status_code == 200
    assert "doit précéder la date d&#x27;expiration" in response.content.decode()


@pytest.mark.django_db
def test_agents_and_citizens_cannot_use_the_editor_and_are_told_why(
    agent_a, citizen, client_as, kb_with_personas
):
    for user in (agent_a, citizen):
        for url in (
            "/console/connaissances/gestion/",
            "/console/connaissances/gestion/knowledge/article/",
            "/console/connaissances/gestion/login/",
        ):
            response = client_as(user).get(url)
            # A page that says why, not a silent redirect.
            assert response.status_code == 403, url
            body = response.content.decode()
            assert "Édition réservée aux superviseurs" in body
            assert "superviseurs et les administrateurs" in body
            assert "Payer son impôt" not in body
    agent_page = client_as(agent_a).get("/console/connaissances/gestion/").content.decode()
    assert 'href="/console/connaissances/"' in agent_page


@pytest.mark.django_db
def test_editor_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/console/connaissances/gestion/knowledge/article/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/connexion/")


@pytest.mark.django_db
def test_knowledge_page_links_to_the_editor_for_supervisors_only(
    supervisor, agent_a, client_as, kb_with_personas
):
    assert (
        "/console/connaissances/gestion/"
        in client_as(supervisor).get("/console/connaissances/").content.decode()
    )
    assert (
        "/console/connaissances/gestion/"
        not in client_as(agent_a).get("/console/connaissances/").content.decode()
    )
