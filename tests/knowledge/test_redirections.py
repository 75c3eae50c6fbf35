"""Subjects the base does not cover: triggers, the engine's decision, the chatbot's answer, the
KB file section, the default entries and the editors' form (knowledge/redirections.py)."""

from __future__ import annotations

import io
import json
from importlib import import_module
from pathlib import Path

import pytest
from django.core.management import call_command

from knowledge import engine as E
from knowledge import evaluation, kbfile
from knowledge.admin import RedirectionForm
from knowledge.evalset import REFERENCE_KB_PATH, engine_for
from knowledge.models import Conversation, Redirection, Turn
from knowledge.redirections import (
    Redirect,
    RedirectionTable,
    default_entries,
    install_default_redirections,
    redirection_entries,
    trigger_conflicts,
)

from .conftest import KB_PATH
from .test_chatbot import ask

# The understanding reads its articles, lexicon and redirections through the ORM's plain
# queries and computes in Python: CI runs these once, in the SQLite phase (docs/testing.md).
pytestmark = pytest.mark.backend_independent

HOUSING = {
    "slug": "aides-logement",
    "title": "Aides au logement",
    "organisation": "CAF ou MSA",
    "triggers": ["apl", "aide au logement", "aide au logement étudiant", "housing benefit"],
    "message": "Les aides au logement sont versées par la CAF ou la MSA.",
    "message_en": "Housing benefits are paid by the CAF or the MSA.",
    "url": "https://www.caf.fr/",
}
BIRTH = {
    "slug": "etat-civil",
    "title": "Actes d'état civil",
    "organisation": "Mairie",
    "triggers": ["acte de naissance", "acte"],
    "message": "Les actes d'état civil sont délivrés par la mairie.",
}


def table(*entries: dict) -> RedirectionTable:
    return RedirectionTable(redirection_entries(entries))


# --- triggers -------------------------------------------------------------------------------


def test_triggers_match_whole_words_whatever_the_accents_case_and_punctuation():
    redirections = table(HOUSING)
    for question in (
        "Comment demander l'APL ?",
        "AIDE AU LOGEMENT!!! j'y ai droit",
        "jai besoin d'une aide-au-logement",
        "Can I get housing benefit as a student?",
    ):
        found = redirections.match(question)
        assert found is not None and found[0].slug == "aides-logement", question
    for question in ("j'ai de l'aplomb", "mon logement étudiant", "aide au déménagement"):
        assert redirections.match(question) is None, question


def test_the_longest_trigger_found_wins():
    redirections = table(HOUSING, BIRTH)
    assert redirections.match("une aide au logement étudiant svp")[1] == "aide au logement etudiant"
    # "acte" is inside "acte de naissance": both are seen, the longer one is kept.
    assert redirections.match("copie d'acte de naissance")[1] == "acte de naissance"
    assert redirections.size == 2


def test_a_trigger_two_entries_share_stays_with_the_first():
    clash = {**BIRTH, "slug": "autre", "triggers": ["apl"]}
    assert table(HOUSING, clash).match("l'apl")[0].slug == "aides-logement"


ALLOWANCE = {
    "slug": "calcul-allocation",
    "title": "Calcul de l'allocation",
    "organisation": "Nos conseillers",
    "kind": "handoff",
    "triggers": ["calcul de mes allocations", "combien je vais toucher au chômage"],
    "message": "Un conseiller peut vous expliquer le calcul de votre allocation.",
}


@pytest.mark.parametrize(
    "question,trigger",
    [
        # Other endings, link words changed, one or two other words between.
        (
            "Comment est calculé le montant de mon allocation chômage ?",
            "calcul de mes allocations",
        ),
        ("les calculs des allocations", "calcul de mes allocations"),
        ("combien je vais bien toucher de chômage ?", "combien je vais toucher au chomage"),
    ],
)
def test_a_trigger_of_several_words_also_matches_loosely(question, trigger):
    found = table(ALLOWANCE).match(question)
    assert found is not None and found.trigger == trigger and found.loose
    assert found.redirect.slug == "calcul-allocation" and not found.context


def test_a_loose_match_keeps_the_order_and_at_most_two_words_between():
    redirections = table(ALLOWANCE, HOUSING)
    assert redirections.match("mes allocations et leur calcul") is None  # order
    assert redirections.match("le calcul exact de ces fameuses allocations") is None  # 3 between
    # One word alone is never loose: "apl" must be written as such, "logement" is not enough.
    assert redirections.match("un logement aidé") is None
    # Written as such, a trigger is found exactly, and the exact match comes first.
    exact = redirections.match("le calcul de mes allocations")
    assert exact is not None and not exact.loose
    # The context rule applies to a loose match too.
    assert redirections.match("on me demande le calcul de mes allocs chômage").context
    # French questions only: the stems and link words are French.
    assert redirections.match("le calcul des allocations chômage").loose
    assert redirections.match("what is the calcul of my allocations chômage") is None


def test_a_loose_match_redirects_unless_an_article_is_very_confident(demo_base):
    """A loose match is weaker evidence than a trigger written as such: an article answering
    with confidence ≥ LOOSE_TRIGGER_MAX keeps the question; a less confident one does not."""
    docs, smalltalk, lexicon = demo_base
    plain = engine_for(docs, smalltalk, lexicon)
    engine = engine_for(docs, smalltalk, lexicon, redirections=redirection_entries([ALLOWANCE]))
    confident = "calcul de la date du paiement de mon allocation chômage"
    before = plain.answer(confident)
    assert before.kind == "answer" and before.confidence >= E.LOOSE_TRIGGER_MAX
    assert engine.redirections.match(confident).loose
    assert engine.answer(confident).article_slug == before.article_slug
    vague = "calcul allocation chômage"
    before = plain.answer(vague)
    assert before.kind == "answer" and before.confidence < E.LOOSE_TRIGGER_MAX
    reply = engine.answer(vague)
    assert reply.kind == "redirect" and reply.redirection.slug == "calcul-allocation"


def test_the_english_message_answers_an_english_question_when_there_is_one():
    housing = Redirect("a", "t", "CAF", "Français.", "English.")
    assert housing.message_for("en") == ("English.", "en")
    assert housing.message_for("fr") == ("Français.", "fr")
    assert Redirect("b", "t", "Mairie", "Français.").message_for("en") == ("Français.", "fr")


# --- the engine's decision -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_base():
    docs, smalltalk = evaluation.docs_from_file(KB_PATH)
    return docs, smalltalk, evaluation.lexicon_from_file(KB_PATH)


def test_a_question_on_another_administrations_subject_gets_the_redirection(demo_base):
    docs, smalltalk, lexicon = demo_base
    question = "je suis étudiant, comment demander l'apl pour mon studio ?"
    without = engine_for(docs, smalltalk, lexicon).answer(question)
    assert without.kind == "answer"  # what it did before: the nearest article, wrongly
    reply = engine_for(
        docs, smalltalk, lexicon, redirections=redirection_entries([HOUSING])
    ).answer(question)
    assert reply.kind == "redirect" and reply.redirection.slug == "aides-logement"
    assert reply.article_slug is None
    off = engine_for(
        docs,
        smalltalk,
        lexicon,
        {"redirections": False},
        redirections=redirection_entries([HOUSING]),
    )
    assert off.answer(question).kind == "answer"


def test_a_subject_that_is_only_the_questions_context_leaves_the_article_answer(demo_base):
    """ "La CAF me demande mon avis d'impôt": the CAF's subject is why the person asks; what
    they ask for is ours. Said as the subject itself, it is redirected."""
    docs, smalltalk, lexicon = demo_base
    plain = engine_for(docs, smalltalk, lexicon)
    engine = engine_for(docs, smalltalk, lexicon, redirections=redirection_entries([HOUSING]))
    for question in (
        "pour mon dossier d'aide au logement on me demande mon avis d'impôt, où le trouver ?",
        "l'apl me réclame mon dernier avis d'imposition, je le télécharge où ?",
        "mon avis d'imposition pour l'apl",
    ):
        reply = engine.answer(question)
        assert reply.kind == "answer", question
        assert reply.article_slug == plain.answer(question).article_slug
    assert engine.answer("l'apl c'est combien pour un studio ?").kind == "redirect"
    # In context but no article is confident: the redirection still helps more than nothing.
    assert engine.answer("pour l'apl il me faut quoi ?").kind == "redirect"


@pytest.mark.parametrize(
    ("question", "redirected"),
    [
        ("How much unemployment benefit will I get?", True),
        ("how much unemployment benefit can I claim after a fixed-term contract", True),
        # a statement of what was received is no calculation
        ("I need a document showing how much unemployment benefit I received last year", False),
    ],
)
def test_the_amount_of_unemployment_benefit_is_asked_in_the_future(question, redirected):
    entry = next(e for e in default_entries() if e["slug"] == "calcul-allocation-chomage")
    assert (table(entry).match(question) is not None) is redirected


@pytest.mark.parametrize(
    "question,context",
    [
        ("la CAF me demande mon avis d'impôt pour l'APL", True),
        ("pour mon dossier APL", True),
        ("pour la demande d'aide au logement", True),
        ("depuis mon APL je paie moins", True),
        ("after my housing benefit stopped", True),
        ("comment demander l'APL", False),
        ("l'apl pour mon studio", False),
        ("housing benefit for students", False),
        # A story told before the question: the subject is in a sentence that tells, and the
        # last one asks with words of its own.
        ("Ma voisine touche l'APL. Est-ce que je dois déclarer ses revenus sur la mienne ?", True),
        # ... not when it is in the question, or when the question says nothing of its own.
        ("On vit à deux dans un studio. L'APL, c'est combien pour nous ?", False),
        ("Je n'ai plus d'APL depuis mars. Que faire ?", False),
        ("J'ai droit à l'APL. Merci de me répondre.", False),
        ("L'APL peut-elle m'aider ? Comment savoir combien je toucherais ?", False),
        # ... and the same when the story comes after the question.
        ("Dois-je déclarer les revenus de ma colocataire ? Elle touche l'APL.", True),
        ("Comment faire ? J'ai droit à l'APL.", False),
    ],
)
def test_what_counts_as_context(question, context):
    found = table(HOUSING).match(question)
    assert found is not None and found[2] is context


@pytest.mark.parametrize(
    "question,context",
    [
        # A document handed over as a piece of a procedure: the procedure is the subject.
        ("on s'est mariés, faut-il leur transmettre le livret de famille ?", True),
        ("Notre fille est née en mai. On doit envoyer son acte de naissance aux impôts ?", True),
        ("do I need to send a copy of the birth certificate?", True),
        # ... not a document the person asks how to obtain.
        ("comment obtenir un acte de naissance ?", False),
        ("où envoyer ma demande d'acte de naissance ?", False),
        ("I need a birth certificate for my son", False),
    ],
)
def test_a_document_handed_over_is_context(question, context):
    entry = next(e for e in default_entries() if e["slug"] == "actes-etat-civil")
    found = table(entry).match(question)
    assert found is not None and found[2] is context, question


def test_a_family_document_sent_to_the_tax_office_gets_the_tax_article(demo_base):
    docs, smalltalk, lexicon = demo_base
    engine = engine_for(
        docs, smalltalk, lexicon, redirections=redirection_entries(default_entries())
    )
    question = (
        "On s'est dit oui à la mairie le 14 juin : est-ce que le fisc va nous compter comme un "
        "seul foyer dès maintenant, et faut-il leur transmettre le livret de famille ?"
    )
    assert engine.answer(question).article_slug == "changement-situation-familiale-impots"
    assert engine.answer("comment obtenir un livret de famille ?").kind == "redirect"


def test_a_trigger_in_the_story_before_the_question_leaves_the_article_answer(demo_base):
    """ "… une voisine l'aidait mais elle est partie en maison de retraite. Est-ce qu'elle peut
    encore remplir sa déclaration de revenus sur papier ?": the pension subject is the story,
    the question is ours."""
    docs, smalltalk, lexicon = demo_base
    retirement = {
        "slug": "retraite",
        "title": "Retraite",
        "organisation": "Caisse de retraite",
        "triggers": ["maison de retraite", "retraite"],
        "message": "Les retraites sont versées par votre caisse de retraite.",
    }
    engine = engine_for(docs, smalltalk, lexicon, redirections=redirection_entries([retirement]))
    story = (
        "Ma mère vit seule, sans ordinateur. Une voisine l'aidait mais elle est partie en maison "
        "de retraite. Est-ce qu'elle peut encore remplir sa déclaration de revenus sur papier ?"
    )
    reply = engine.answer(story)
    assert reply.kind == "answer" and reply.article_slug == "declaration-revenus-en-ligne"
    asked = "Ma mère a 82 ans. Comment peut-elle demander sa retraite ?"
    assert engine.answer(asked).kind == "redirect"


def test_agents_searches_are_never_redirected(demo_base):
    docs, smalltalk, lexicon = demo_base
    engine = engine_for(docs, smalltalk, lexicon, redirections=redirection_entries([HOUSING]))
    assert engine.answer("aide au logement", audience="agent").kind != "redirect"


# --- the chatbot ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_chatbot_sends_the_citizen_to_the_right_organisation(citizen_client):
    Redirection.objects.update_or_create(
        slug=HOUSING["slug"], defaults={k: v for k, v in HOUSING.items() if k != "slug"}
    )
    data = ask(citizen_client, "Comment faire une demande d'APL ?").json()
    assert data["outcome"] == "redirected"
    assert data["text"] == HOUSING["message"] and data["text_lang"] == "fr"
    assert data["redirection"] == {
        "slug": "aides-logement",
        "title": "Aides au logement",
        "organisation": "CAF ou MSA",
        "url": "https://www.caf.fr/",
        "kind": "external",
    }
    assert data["article"] is None and data["handoff"] is None and not data["can_rate"]
    conversation = Conversation.objects.get(pk=data["conversation"])
    assert conversation.failures_in_row == 0  # an answer, not a failure
    assert Turn.objects.get(pk=data["turn"]).outcome == Turn.Outcome.REDIRECTED
    english = ask(citizen_client, "How do I apply for housing benefit?", data["conversation"])
    assert english.json()["text"] == HOUSING["message_en"]
    assert english.json()["text_lang"] == "en"


@pytest.mark.django_db
def test_a_switched_off_redirection_is_forgotten_at_once(citizen_client):
    Redirection.objects.update_or_create(
        slug=HOUSING["slug"], defaults={k: v for k, v in HOUSING.items() if k != "slug"}
    )
    assert ask(citizen_client, "Comment faire une demande d'APL ?").json()["outcome"] == (
        "redirected"
    )
    Redirection.objects.filter(slug=HOUSING["slug"]).update(is_active=False)
    Redirection.objects.filter(slug=HOUSING["slug"]).first().save()  # updated_at moves
    assert ask(citizen_client, "Comment faire une demande d'APL ?").json()["outcome"] != (
        "redirected"
    )


@pytest.mark.django_db
def test_chatbot_answer_names_the_redirection(kb):
    Redirection.objects.update_or_create(
        slug=HOUSING["slug"], defaults={k: v for k, v in HOUSING.items() if k != "slug"}
    )
    out = io.StringIO()
    call_command("chatbot_answer", "l'apl c'est combien", stdout=out)
    assert "-> (réorientation : aides-logement)" in out.getvalue()
    out = io.StringIO()
    call_command("chatbot_answer", "--jsonl", "l'apl c'est combien", stdout=out)
    result = json.loads(out.getvalue())  # the documented interface: no article
    assert set(result) == {"q", "article", "confidence", "smalltalk"}
    assert result["article"] is None and result["smalltalk"] is None


# --- the KB file and the defaults -------------------------------------------------------------


def kb_file(tmp_path: Path, redirections) -> Path:
    path = tmp_path / "kb.json"
    path.write_text(
        json.dumps({"topics": [], "articles": [], "redirections": redirections}),
        encoding="utf-8",
    )
    return path


@pytest.mark.django_db
def test_import_kb_upserts_redirections_by_slug_and_export_gives_them_back(tmp_path):
    Redirection.objects.all().delete()
    call_command("import_kb", str(kb_file(tmp_path, [HOUSING])), verbosity=0)
    # An empty table first receives the default entries, then the file's (the file wins).
    assert Redirection.objects.count() == len(
        {*(e["slug"] for e in default_entries()), "aides-logement"}
    )
    assert Redirection.objects.get(slug="aides-logement").message == HOUSING["message"]
    changed = {**HOUSING, "message": "Voyez la CAF."}
    call_command("import_kb", str(kb_file(tmp_path, [changed])), verbosity=0)
    assert Redirection.objects.get(slug="aides-logement").message == "Voyez la CAF."
    exported = {r["slug"]: r for r in kbfile.export_data()["redirections"]}
    assert exported["aides-logement"] == {**changed, "kind": "external"}


@pytest.mark.django_db
def test_a_bad_redirections_section_is_refused_with_precise_errors(tmp_path):
    before = Redirection.objects.count()
    bad = [
        {**HOUSING, "url": "http://www.caf.fr/"},
        {**BIRTH, "triggers": []},
        {**BIRTH, "slug": "aides-logement"},
        {"slug": "Pas Un Slug", "title": "x", "message": "y", "triggers": ["z"]},
        "texte",
    ]
    with pytest.raises(kbfile.KBFileError) as error:
        kbfile.import_path(kb_file(tmp_path, bad))
    assert error.value.errors == [
        "réorientation « aides-logement » : « url » doit commencer par https://.",
        "réorientation « etat-civil » : « triggers » doit être une liste non vide de textes.",
        "réorientation « aides-logement » : en double dans le fichier.",
        "réorientation « Pas Un Slug » : identifiant invalide (lettres, chiffres, tirets).",
        "réorientation n° 5 : un objet est attendu.",
    ]
    assert Redirection.objects.count() == before


@pytest.mark.django_db
def test_the_default_redirections_are_installed_without_touching_editors_entries():
    """What migration 0009 runs (and ``import_kb`` on an empty table)."""
    from django.apps import apps

    first = default_entries()[0]
    Redirection.objects.all().delete()
    Redirection.objects.create(slug=first["slug"], title="Mien", message="Mon texte.")
    import_module("knowledge.migrations.0009_redirection").add_default_redirections(apps, None)
    assert set(Redirection.objects.values_list("slug", flat=True)) == {
        e["slug"] for e in default_entries()
    }
    assert Redirection.objects.get(slug=first["slug"]).message == "Mon texte."
    assert install_default_redirections(Redirection) == 0  # nothing twice


@pytest.mark.django_db
def test_migration_0012_adds_the_new_defaults_to_a_deployment_and_nothing_else():
    """A deployment installed before 0012 holds the older defaults, some switched off or
    deleted by its editors: 0012 adds the three new subjects only."""
    from django.apps import apps

    migration = import_module("knowledge.migrations.0012_more_default_redirections")
    Redirection.objects.all().delete()
    Redirection.objects.create(slug="amendes", title="Amendes", message="Texte des éditeurs.")
    migration.add_new_defaults(apps, None)
    assert set(Redirection.objects.values_list("slug", flat=True)) == {
        "amendes",
        *migration.NEW_SLUGS,
    }
    assert Redirection.objects.get(slug="amendes").message == "Texte des éditeurs."
    assert {e["slug"] for e in default_entries()} >= set(migration.NEW_SLUGS)


@pytest.mark.parametrize("path", [KB_PATH, REFERENCE_KB_PATH], ids=["demo", "reference"])
def test_no_default_trigger_takes_a_question_the_shipped_bases_answer(path):
    """A trigger found in an article's title, keywords or example questions would take that
    article's questions away: none of the defaults is, in either base."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles = [
        (a["title"], [a["title"], *a.get("keywords", []), *a.get("questions", [])])
        for a in data["articles"]
    ]
    triggers = [t for e in default_entries() for t in e["triggers"]]
    assert len(triggers) >= 100
    assert trigger_conflicts(triggers, articles) == []


def test_every_default_redirection_is_complete():
    entries = default_entries()
    assert len({e["slug"] for e in entries}) == len(entries)
    for entry in entries:
        assert entry["triggers"] and entry["message"] and entry["message_en"], entry["slug"]
        assert entry["url"].startswith("https://"), entry["slug"]


# --- the editors' form ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_refuses_a_trigger_a_published_article_uses(kb):
    data = {
        "title": "Aides au logement",
        "slug": "aides-logement-bis",
        "kind": "external",
        "organisation": "CAF",
        "triggers": "apl\ncarte vitale\n",
        "message": "Voyez la CAF.",
        "message_en": "",
        "url": "https://www.caf.fr/",
        "is_active": True,
    }
    form = RedirectionForm(data=data)
    assert not form.is_valid()
    assert "« carte vitale » figure dans l'article" in form.errors["triggers"][0]
    form = RedirectionForm(data={**data, "triggers": "apl\naide au logement"})
    assert form.is_valid(), form.errors
    assert form.save().triggers == ["apl", "aide au logement"]
    form = RedirectionForm(data={**data, "slug": "x", "triggers": "  \n", "url": "http://caf.fr/"})
    assert not form.is_valid()
    assert set(form.errors) == {"triggers", "url"}


@pytest.mark.django_db
def test_supervisors_add_a_redirection_in_the_editor(supervisor, client_as, kb_with_personas):
    client = client_as(supervisor)
    base = "/console/connaissances/gestion/knowledge/redirection/"
    assert client.get(base).status_code == 200
    assert client.get(base + "add/").status_code == 200
    response = client.post(
        base + "add/",
        {
            "title": "Cantine scolaire",
            "slug": "cantine-scolaire",
            "kind": "external",
            "organisation": "Mairie",
            "triggers": "cantine scolaire\ninscription cantine",
            "message": "La cantine relève de votre mairie.",
            "message_en": "",
            "url": "https://www.service-public.fr/",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Redirection.objects.get(slug="cantine-scolaire").triggers == [
        "cantine scolaire",
        "inscription cantine",
    ]


# --- our own subjects without an article (kind "handoff") ------------------------------------

OWN = {
    "slug": "vignette-test",
    "kind": "handoff",
    "title": "Vignette fiscale",
    "organisation": "Nos conseillers",
    "triggers": ["vignette fiscale"],
    "message": "La vignette fiscale relève de nos services ; un conseiller peut vous répondre.",
    "url": "https://www.impots.gouv.fr/",
}


@pytest.mark.django_db
def test_our_own_subject_without_an_article_offers_an_adviser_at_once(citizen_client):
    Redirection.objects.update_or_create(
        slug=OWN["slug"], defaults={k: v for k, v in OWN.items() if k != "slug"}
    )
    data = ask(citizen_client, "comment payer ma vignette fiscale en plusieurs fois ?").json()
    assert data["outcome"] == "redirected" and data["text"] == OWN["message"]
    assert data["redirection"]["kind"] == "handoff"
    assert data["handoff"]["reason"] == "subject"
    assert "Un conseiller peut vous répondre sur ce sujet." in data["handoff"]["message"]
    assert {o["kind"] for o in data["handoff"]["options"]} >= {"message", "callback"}
    assert Conversation.objects.get(pk=data["conversation"]).failures_in_row == 0


@pytest.mark.django_db
def test_the_kind_is_validated_imported_and_exported(tmp_path):
    with pytest.raises(kbfile.KBFileError) as error:
        kbfile.import_path(kb_file(tmp_path, [{**OWN, "kind": "autre"}]))
    assert error.value.errors == [
        "réorientation « vignette-test » : « kind » doit valoir « external » ou « handoff »."
    ]
    kbfile.import_path(kb_file(tmp_path, [OWN, HOUSING]))
    assert Redirection.objects.get(slug=OWN["slug"]).kind == "handoff"
    assert Redirection.objects.get(slug=HOUSING["slug"]).kind == "external"  # the default
    exported = {r["slug"]: r for r in kbfile.export_data()["redirections"]}
    assert exported[OWN["slug"]]["kind"] == "handoff"


class _Field:
    def __init__(self, name):
        self.name = name


class _HistoricalRedirection:
    """What migration 0009 sees: a Redirection without ``kind`` (added by 0011)."""

    created: list = []

    class _meta:  # noqa: N801 (the model API's name)
        @staticmethod
        def get_fields():
            return [_Field(n) for n in ("slug", "title", "organisation", "triggers", "message")]

    class objects:  # noqa: N801
        @staticmethod
        def values_list(*args, **kwargs):
            return []

        @staticmethod
        def bulk_create(rows):
            _HistoricalRedirection.created.extend(rows)
            return rows

    def __init__(self, **fields):
        self.fields = fields


def test_a_model_without_kinds_receives_other_administrations_subjects_only():
    """Migration 0009 runs before ``kind`` exists: the own-subject defaults wait for 0011,
    which installs them with their kind (else they would all become "external")."""
    _HistoricalRedirection.created = []
    install_default_redirections(_HistoricalRedirection)
    slugs = {row.fields["slug"] for row in _HistoricalRedirection.created}
    entries = default_entries()
    assert slugs == {e["slug"] for e in entries if e["kind"] == "external"}
    assert any(e["kind"] == "handoff" for e in entries)
    assert all("kind" not in row.fields for row in _HistoricalRedirection.created)
