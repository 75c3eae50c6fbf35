import json

import pytest
from django.core.management import CommandError, call_command

from contactcenter.models import Service, Topic
from knowledge.lexicon import default_entries
from knowledge.models import Article, ArticleVersion, SmallTalk

from .conftest import KB_PATH


def load(path=KB_PATH):
    return json.loads(path.read_text(encoding="utf-8"))


def write(tmp_path, data, name="kb.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@pytest.mark.django_db
def test_import_on_fresh_database_creates_topics_and_default_service():
    assert not Service.objects.exists()
    call_command("import_kb", str(KB_PATH), verbosity=0)
    assert Article.objects.count() == 50
    assert Article.objects.filter(audience="agent").count() == 4
    assert Article.objects.filter(status="published").count() == 50
    assert SmallTalk.objects.count() == 3
    service = Service.objects.get()
    assert (service.code, service.name) == ("accueil", "Accueil général")
    assert set(Topic.objects.values_list("slug", flat=True)) == {
        "impots",
        "sante",
        "titres",
        "etudiants",
        "emploi",
        "compte",
    }
    assert all(t.service == service for t in Topic.objects.all())
    article = Article.objects.get(slug="compte-bloque")
    assert article.escalate is True
    assert "bloqué" in article.questions[0]
    assert article.versions.count() == 1


@pytest.mark.django_db
def test_new_topics_go_to_the_service_given_or_the_first_active_one(tmp_path):
    Service.objects.create(code="inactif", name="A inactif", is_active=False)
    first = Service.objects.create(code="zeta", name="Zeta")
    Service.objects.create(code="alpha", name="Alpha")
    call_command("import_kb", str(KB_PATH), verbosity=0)
    assert set(Topic.objects.values_list("service__code", flat=True)) == {"zeta"}
    assert first.topics.count() == 6
    data = load()
    data["topics"].append({"slug": "logement", "title": "Logement"})
    data["articles"][0]["topic"] = "logement"
    call_command("import_kb", str(write(tmp_path, data)), service="alpha", verbosity=0)
    assert Topic.objects.get(slug="logement").service.code == "alpha"
    # existing topics keep their service
    assert Topic.objects.get(slug="impots").service.code == "zeta"


@pytest.mark.django_db
def test_unknown_service_option_is_refused_and_nothing_imported():
    with pytest.raises(CommandError, match="Service « nope » introuvable"):
        call_command("import_kb", str(KB_PATH), service="nope", verbosity=0)
    assert not Article.objects.exists()
    assert not Topic.objects.exists()


@pytest.mark.django_db
def test_reimport_is_idempotent_and_updates_in_place(tmp_path):
    call_command("import_kb", str(KB_PATH), verbosity=0)
    ids = dict(Article.objects.values_list("slug", "id"))
    call_command("import_kb", str(KB_PATH), verbosity=0)
    assert Article.objects.count() == 50
    assert ArticleVersion.objects.count() == 50  # unchanged content: no new version
    data = load()
    data["articles"][0]["title"] = "Nouveau titre"
    data["articles"][1]["escalate"] = True
    call_command("import_kb", str(write(tmp_path, data)), verbosity=0)
    assert Article.objects.count() == 50
    assert dict(Article.objects.values_list("slug", "id")) == ids
    first = Article.objects.get(slug=data["articles"][0]["slug"])
    assert first.title == "Nouveau titre"
    assert first.version == 2
    assert list(first.versions.values_list("number", flat=True)) == [2, 1]
    second = Article.objects.get(slug=data["articles"][1]["slug"])
    assert second.escalate is True
    assert second.version == 1  # not a content change


@pytest.mark.django_db
def test_unknown_topic_and_missing_field_are_rejected_with_line_and_slug(tmp_path, capsys):
    call_command("import_kb", str(KB_PATH), verbosity=0)
    data = load()
    data["articles"][3]["topic"] = "inconnu"
    del data["articles"][10]["title"]
    data["articles"][20]["body"] = "Texte modifié qui ne doit pas être enregistré."
    path = write(tmp_path, data)
    with pytest.raises(CommandError) as excinfo:
        call_command("import_kb", str(path), verbosity=0)
    message = str(excinfo.value)
    lines = path.read_text(encoding="utf-8").splitlines()
    slug3, slug10 = data["articles"][3]["slug"], data["articles"][10]["slug"]
    line3 = next(i for i, line in enumerate(lines, 1) if f'"slug": "{slug3}"' in line)
    assert f"ligne {line3}, article n° 4 « {slug3} » : thème inconnu « inconnu »" in message
    assert f"article n° 11 « {slug10} » : champ obligatoire « title » manquant" in message
    assert "rien n'a été modifié" in message
    # nothing half-imported: the valid change of article 21 was not written either
    assert (
        Article.objects.get(slug=data["articles"][20]["slug"]).body != data["articles"][20]["body"]
    )


@pytest.mark.django_db
def test_fresh_database_bad_file_leaves_no_topic_no_service(tmp_path):
    data = load()
    data["articles"][-1]["audience"] = "everyone"
    with pytest.raises(CommandError, match="audience"):
        call_command("import_kb", str(write(tmp_path, data)), verbosity=0)
    assert not Topic.objects.exists()
    assert not Service.objects.exists()
    assert not Article.objects.exists()


@pytest.mark.django_db
def test_invalid_json_reports_line_and_column(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "articles": [\n    {"slug": }\n  ]\n}', encoding="utf-8")
    with pytest.raises(CommandError, match=r"ligne 3, colonne 14 : JSON invalide"):
        call_command("import_kb", str(path), verbosity=0)


@pytest.mark.django_db
def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(CommandError, match="Fichier introuvable"):
        call_command("import_kb", str(tmp_path / "absent.json"), verbosity=0)


@pytest.mark.django_db
def test_duplicate_slug_in_file_is_rejected(tmp_path):
    data = load()
    data["articles"].append(dict(data["articles"][0]))
    with pytest.raises(CommandError, match="article en double"):
        call_command("import_kb", str(write(tmp_path, data)), verbosity=0)
    assert not Article.objects.exists()


@pytest.mark.django_db
def test_export_writes_the_import_format_back(tmp_path):
    call_command("import_kb", str(KB_PATH), verbosity=0)
    article = Article.objects.get(slug="passeport-demande")
    article.related.add(Article.objects.get(slug="suivre-demande-titre"))
    Article.objects.filter(slug="ceam").update(review_date="2027-01-15", expiry_date="2027-06-30")
    out = tmp_path / "export.json"
    call_command("export_kb", str(out), verbosity=0)
    exported = json.loads(out.read_text(encoding="utf-8"))
    original = load()
    assert len(exported["articles"]) == 50
    assert {t["slug"] for t in exported["topics"]} == {t["slug"] for t in original["topics"]}
    by_slug = {a["slug"]: a for a in exported["articles"]}
    for source in original["articles"]:
        for key in ("topic", "title", "audience", "body", "questions", "keywords", "escalate"):
            assert by_slug[source["slug"]][key] == source[key]
    assert by_slug["ceam"]["expiry_date"] == "2027-06-30"
    # Related articles are symmetrical: the lost-passport article links back.
    assert by_slug["passeport-demande"]["related"] == [
        "passeport-perdu-vole",
        "suivre-demande-titre",
    ]
    assert exported["smalltalk"] == original["smalltalk"]
    # the lexicon is the default one the migration wrote (the demo file adds none)
    assert "synonyms" not in original
    assert {s["term"] for s in exported["synonyms"]} == {s["term"] for s in default_entries()}
    # and it round-trips: re-importing the export changes nothing
    versions = ArticleVersion.objects.count()
    call_command("import_kb", str(out), verbosity=0)
    assert ArticleVersion.objects.count() == versions
    assert (
        Article.objects.get(slug="suivre-demande-titre")
        .related.filter(slug="passeport-demande")
        .exists()
    )


@pytest.mark.django_db
def test_load_demo_runs_after_import_kb_and_remaps_topics():
    call_command("load_demo", verbosity=0)
    assert Article.objects.count() == 50
    assert Topic.objects.get(slug="impots").service.code == "fiscalite"
    assert Topic.objects.get(slug="sante").service.code == "social"
    assert not Service.objects.filter(code="accueil").exists()
    from knowledge.models import DiagnosisTree

    assert DiagnosisTree.objects.filter(root__isnull=False).count() == 2
    call_command("load_demo", verbosity=0)  # idempotent
    assert Article.objects.count() == 50
    assert DiagnosisTree.objects.count() == 2
