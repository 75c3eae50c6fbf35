import pytest

from knowledge.demo import load_diagnosis_trees
from knowledge.models import Article, DiagnosisTree


@pytest.mark.django_db
def test_editor_shows_diagnosis_trees_of_my_services(
    supervisor, agent_b, client_as, kb_with_personas
):
    load_diagnosis_trees()
    client = client_as(supervisor)  # service A: impots, not sante/emploi
    listing = client.get("/console/connaissances/gestion/knowledge/diagnosistree/").content.decode()
    assert "Carte Vitale perdue" not in listing
    tree = DiagnosisTree.objects.get(slug="carte-vitale")
    tree.topic = Article.objects.get(slug="payer-impot").topic
    tree.save()
    response = client.get(
        f"/console/connaissances/gestion/knowledge/diagnosistree/{tree.pk}/change/"
    )
    assert response.status_code == 200
    assert "Que se passe-t-il avec la carte Vitale" in response.content.decode()


@pytest.mark.django_db
def test_publish_action_snapshots_a_version(admin_user, client_as, kb):
    article = Article.objects.get(slug="ceam")
    Article.objects.filter(pk=article.pk).update(status="draft")
    response = client_as(admin_user).post(
        "/admin/knowledge/article/",
        {"action": "publish", "_selected_action": [article.pk]},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.status == "published" and article.published_at is not None


@pytest.mark.django_db
def test_api_schema_documents_the_chatbot_endpoints(admin_user, client_as):
    response = client_as(admin_user).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/chatbot/messages" in response.content
