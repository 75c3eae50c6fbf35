import json
import re

import pytest
from django.urls import reverse

from contactcenter.models import AuditLog, Event
from knowledge.demo import load_diagnosis_trees
from knowledge.models import Article, DeflectionEvent, DiagnosisTree


# --- FAQ ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_faq_index_lists_topics_for_anonymous_visitors(client, kb):
    response = client.get("/faq/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Impôts des particuliers" in html
    assert "Santé et assurance maladie" in html
    assert 'href="/faq/themes/impots/"' in html


@pytest.mark.django_db
def test_topic_page_lists_public_articles_only(client, kb):
    html = client.get("/faq/themes/impots/").content.decode()
    assert "Signaler un changement d&#x27;adresse aux impôts" in html
    assert "Instruire une demande de délai de paiement" not in html
    assert client.get("/faq/themes/nope/").status_code == 404


@pytest.mark.django_db
def test_faq_search_finds_articles_and_never_agent_ones(client, kb):
    html = client.get("/faq/", {"q": "passport perdu pour voyage"}).content.decode()
    assert "Demander un passeport" in html
    html = client.get("/faq/", {"q": "procédure interne échéancier contribuable"}).content.decode()
    assert "procédure agent" not in html


@pytest.mark.django_db
def test_faq_search_bad_input_gets_a_precise_message(client, kb):
    response = client.get("/faq/", {"q": "   "})
    assert response.status_code == 200
    assert "Saisissez quelques mots" in response.content.decode()
    long = client.get("/faq/", {"q": "x" * 1200}).content.decode()
    assert "trop longue" in long
    unknown_topic = client.get("/faq/", {"q": "carte", "topic": "nope"})
    assert unknown_topic.status_code == 200


@pytest.mark.django_db
def test_article_page_renders_markdown_safely(client, kb):
    article = Article.objects.get(slug="ceam")
    article.body = (
        "# Titre\n\nTexte **gras** <script>alert(1)</script> "
        '<iframe src="https://evil.example"></iframe> [lien](javascript:alert(1)) '
        '<img src=x onerror="alert(1)"> [ok](https://www.service-public.fr)'
    )
    article.save()
    html = client.get("/faq/articles/ceam/").content.decode()
    body = html.split('class="knowledge-body">', 1)[1].split("</div>", 1)[0]
    assert "<strong>gras</strong>" in body
    assert "<h2>Titre</h2>" in body  # headings start below the page's h1
    assert "<script" not in body and "<iframe" not in body and "onerror" not in body
    assert "javascript:" not in body
    assert 'href="https://www.service-public.fr"' in body
    assert 'rel="noopener noreferrer"' in body


@pytest.mark.django_db
def test_agent_only_article_is_404_for_citizens_and_visible_to_agents(
    client, kb_with_personas, citizen, agent_a, client_as
):
    url = "/faq/articles/instruire-delai-paiement/"
    assert client.get(url).status_code == 404
    assert client_as(citizen).get(url).status_code == 404
    response = client_as(agent_a).get(url)
    assert response.status_code == 200
    assert "Procédure interne" in response.content.decode()


@pytest.mark.django_db
def test_draft_and_archived_articles_are_404(client, kb):
    Article.objects.filter(slug="ceam").update(status="draft")
    assert client.get("/faq/articles/ceam/").status_code == 404


# --- deflection -----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_deflection_fragment_shows_up_to_three_public_articles_and_records_shown(
    citizen, client_as, kb_with_personas
):
    client = client_as(citizen)
    url = reverse("knowledge:deflection_suggestions")
    response = client.get(
        url, {"topic": "sante", "q": "j'ai perdu ma carte vitale"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a fragment
    cards = re.findall(r'<li class="fr-card', html)
    assert 1 <= len(cards) <= 3
    assert "Remplacer une carte Vitale" in html
    assert f'hx-post="{reverse("knowledge:deflection_sufficient")}"' in html
    assert "&quot;article&quot;: &quot;carte-vitale-perdue&quot;" in html
    assert "Cette réponse me suffit" in html
    # it sits inside the request form: no nested <form>, and the button does not submit it
    assert "<form" not in html
    assert 'type="button"' in html
    shown = DeflectionEvent.objects.filter(kind="shown", user=citizen)
    assert shown.count() == len(cards)
    assert shown.filter(article__slug="carte-vitale-perdue", topic__slug="sante").exists()
    # the form refreshes as the citizen types: no duplicate "shown" events
    client.get(url, {"topic": "sante", "q": "j'ai perdu ma carte vitale hier"})
    assert DeflectionEvent.objects.filter(kind="shown", user=citizen).count() == len(cards)


@pytest.mark.django_db
def test_deflection_fragment_is_empty_for_nonsense_or_short_text(client, kb):
    url = reverse("knowledge:deflection_suggestions")
    assert "fr-card" not in client.get(url, {"q": "ab"}).content.decode()
    assert "fr-card" not in client.get(url, {"q": "recette de la pizza"}).content.decode()
    assert not DeflectionEvent.objects.exists()


@pytest.mark.django_db
def test_deflection_never_suggests_agent_only_articles(citizen, client_as, kb):
    html = (
        client_as(citizen)
        .get(
            reverse("knowledge:deflection_suggestions"),
            {"q": "vérifier l'identité d'un appelant questions de contrôle"},
        )
        .content.decode()
    )
    assert "verifier-identite-appelant" not in html


@pytest.mark.django_db
def test_this_answer_is_enough_records_and_redirects_without_creating_a_case(
    citizen, client_as, kb_with_personas
):
    client = client_as(citizen)
    response = client.post(
        reverse("knowledge:deflection_sufficient"),
        {"article": "carte-vitale-perdue", "topic": "sante", "query": "carte vitale perdue"},
        follow=True,
    )
    assert response.redirect_chain[0][0] == reverse("messaging:space")
    assert "Aucune demande n&#x27;a été envoyée" in response.content.decode()
    event = DeflectionEvent.objects.get(kind="sufficient")
    assert (event.user, event.article.slug, event.topic.slug) == (
        citizen,
        "carte-vitale-perdue",
        "sante",
    )
    assert not citizen.cases.exists()


@pytest.mark.django_db
def test_this_answer_is_enough_from_htmx_navigates_to_the_citizen_space(
    citizen, client_as, kb_with_personas
):
    response = client_as(citizen).post(
        reverse("knowledge:deflection_sufficient"),
        {"article": "ceam", "topic": "sante", "query": "carte européenne"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("messaging:space")
    assert DeflectionEvent.objects.filter(kind="sufficient", article__slug="ceam").exists()


@pytest.mark.django_db
def test_this_answer_is_enough_with_bad_article_is_a_message_not_a_500(citizen, client_as, kb):
    client = client_as(citizen)
    response = client.post(
        reverse("knowledge:deflection_sufficient"),
        {"article": "nope", "topic": "", "query": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert "n&#x27;existe pas" in response.content.decode()
    agent_only = client.post(
        reverse("knowledge:deflection_sufficient"), {"article": "instruire-delai-paiement"}
    )
    assert agent_only.status_code == 302
    assert not DeflectionEvent.objects.exists()
    assert client.get(reverse("knowledge:deflection_sufficient")).status_code == 405


# --- agents ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_agent_search_includes_agent_articles_with_insert_button(
    agent_a, client_as, kb_with_personas
):
    client = client_as(agent_a)
    response = client.get(
        reverse("knowledge:agent_search"),
        {"q": "délai de paiement échéancier impôt", "target": "reply-body"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert "Instruire une demande de délai de paiement" in html
    assert "Procédure interne" in html
    assert 'data-insert-target="reply-body"' in html
    # the insert text is the public article's plain text, with a link to the FAQ page
    match = re.search(r'data-insert-text="([^"]*)"', html)
    assert match and "http://testserver/faq/articles/" in match.group(1)
    assert "**" not in match.group(1)


@pytest.mark.django_db
def test_agent_search_full_page_without_htmx(agent_a, client_as, kb_with_personas):
    response = client_as(agent_a).get(reverse("knowledge:agent_search"), {"q": "carte vitale"})
    assert response.status_code == 200
    assert "<html" in response.content.decode()


@pytest.mark.django_db
def test_agent_search_is_404_for_citizens_and_login_for_anonymous(citizen, client_as, client, kb):
    url = reverse("knowledge:agent_search")
    assert client_as(citizen).get(url, {"q": "carte"}).status_code == 404
    assert client.get(url, {"q": "carte"}).status_code == 302


@pytest.mark.django_db
def test_agent_search_rejects_a_bad_target(agent_a, client_as, kb_with_personas):
    response = client_as(agent_a).get(
        reverse("knowledge:agent_search"), {"q": "carte", "target": '"><script>'}
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_review_list_shows_due_articles_of_my_services(
    supervisor, agent_b, client_as, kb_with_personas
):
    Article.objects.filter(slug="payer-impot").update(review_date="2020-01-01")  # impots: A
    Article.objects.filter(slug="ceam").update(review_date="2020-01-01")  # sante: B
    Article.objects.filter(slug="passeport-demande").update(review_date="2999-01-01")
    html = client_as(supervisor).get(reverse("knowledge:review")).content.decode()
    assert "Payer son impôt" in html
    assert "carte européenne" not in html
    html_b = client_as(agent_b).get(reverse("knowledge:review")).content.decode()
    assert "carte européenne" in html_b and "Payer son impôt" not in html_b


@pytest.mark.django_db
def test_markdown_preview_is_sanitised_and_staff_only(supervisor, citizen, client_as):
    url = reverse("knowledge:markdown_preview")
    response = client_as(supervisor).post(url, {"body": "**ok** <script>x</script>"})
    assert response.content.decode().strip() == "<p><strong>ok</strong> </p>"
    assert client_as(citizen).post(url, {"body": "x"}).status_code == 404


# --- guided diagnosis -----------------------------------------------------------------------------
@pytest.fixture
def trees(kb_with_personas):
    assert load_diagnosis_trees() == 2
    return DiagnosisTree.objects.order_by("slug")


def _choice(tree, node_key, label):
    return tree.nodes.get(key=node_key).choices.get(label=label)


@pytest.mark.django_db
def test_agent_walks_a_tree_and_saves_the_path_on_the_case(agent_b, client_as, case_b, trees):
    tree = DiagnosisTree.objects.get(slug="carte-vitale")
    client = client_as(agent_b)
    url = reverse("knowledge:diagnosis_walk", args=[tree.slug])
    first = client.get(url, {"case": case_b.reference})
    assert first.status_code == 200
    assert "Que se passe-t-il avec la carte Vitale" in first.content.decode()
    assert AuditLog.objects.filter(actor=agent_b, case=case_b).exists()
    lost = _choice(tree, "debut", "Elle est perdue ou volée")
    soon = _choice(tree, "soins", "Oui")
    path = f"{lost.pk},{soon.pk}"
    page = client.get(url, {"case": case_b.reference, "path": path}).content.decode()
    assert "Issue" in page and "attestation de droits" in page
    response = client.post(url, {"case": case_b.reference, "path": path})
    assert response.status_code == 302
    event = case_b.events.get(type=Event.Type.DIAGNOSIS)
    assert event.internal is True and event.actor == agent_b
    assert event.payload["tree"] == "carte-vitale"
    assert [step["answer"] for step in event.payload["path"]] == ["Elle est perdue ou volée", "Oui"]
    assert event.payload["outcome"]["article"] == "attestation-droits"
    assert "Elle est perdue ou volée" in event.body


@pytest.mark.django_db
def test_unfinished_or_forged_path_is_refused(agent_b, client_as, case_b, trees):
    tree = DiagnosisTree.objects.get(slug="carte-vitale")
    client = client_as(agent_b)
    url = reverse("knowledge:diagnosis_walk", args=[tree.slug])
    lost = _choice(tree, "debut", "Elle est perdue ou volée")
    response = client.post(url, {"case": case_b.reference, "path": str(lost.pk)}, follow=True)
    assert "pas terminé" in response.content.decode()
    other = DiagnosisTree.objects.get(slug="allocation-non-versee")
    foreign = other.root.choices.first()
    page = client.get(url, {"case": case_b.reference, "path": f"{foreign.pk}"}).content.decode()
    assert "ne correspond pas" in page
    assert client.get(url, {"path": "1,abc"}).status_code == 200
    assert not case_b.events.filter(type=Event.Type.DIAGNOSIS).exists()


@pytest.mark.django_db
def test_agent_of_other_service_gets_404_on_the_case(agent_a, client_as, case_b, trees):
    url = reverse("knowledge:diagnosis_walk", args=["carte-vitale"])
    assert client_as(agent_a).get(url, {"case": case_b.reference}).status_code == 404


@pytest.mark.django_db
def test_diagnosis_pages_are_not_for_citizens(citizen, client_as, trees):
    assert client_as(citizen).get(reverse("knowledge:diagnosis_list")).status_code == 404


@pytest.mark.django_db
def test_diagnosis_list_puts_the_case_topic_first(agent_b, client_as, case_b, trees):
    html = (
        client_as(agent_b)
        .get(reverse("knowledge:diagnosis_list"), {"case": case_b.reference})
        .content.decode()
    )
    assert html.index("Carte Vitale perdue") < html.index("Allocation chômage non versée")


@pytest.mark.django_db
def test_diagnosis_in_the_workstation_dialog_walks_and_saves_in_place(
    agent_b, client_as, case_b, trees
):
    # htmx requests (the agent workstation's dialog): fragments boosted into the dialog, and
    # the save answers in place, naming the case whose tab must refresh.
    client = client_as(agent_b)
    hx = {"HTTP_HX_REQUEST": "true"}
    listing = client.get(reverse("knowledge:diagnosis_list"), {"case": case_b.reference}, **hx)
    html = listing.content.decode()
    assert 'hx-boost="true"' in html and 'id="ws-dialog-title"' in html and "<html" not in html
    tree = DiagnosisTree.objects.get(slug="carte-vitale")
    url = reverse("knowledge:diagnosis_walk", args=[tree.slug])
    lost = _choice(tree, "debut", "Elle est perdue ou volée")
    step = client.get(url, {"case": case_b.reference, "path": str(lost.pk)}, **hx).content.decode()
    assert f'href="{url}?path={lost.pk},' in step  # absolute: the dialog is on another page
    soon = _choice(tree, "soins", "Oui")
    path = f"{lost.pk},{soon.pk}"
    unfinished = client.post(url, {"case": case_b.reference, "path": str(lost.pk)}, **hx)
    assert "pas terminé" in unfinished.content.decode()
    response = client.post(url, {"case": case_b.reference, "path": path}, **hx)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {
        "guichet:case-changed": {"reference": case_b.reference}
    }
    assert case_b.events.filter(type=Event.Type.DIAGNOSIS).count() == 1
