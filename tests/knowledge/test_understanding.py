"""Citizens' own words: editors' lexicon, language detection, "rattacher à l'article…"."""

import io

import pytest
from django.contrib import admin as django_admin
from django.core.management import call_command

from knowledge import engine, services
from knowledge.lexicon import Lexicon, default_entries, detect_language, install_default_lexicon
from knowledge.models import (
    Article,
    Conversation,
    OutOfScopeExample,
    Redirection,
    Synonym,
    Turn,
)

# The understanding reads its articles, lexicon and redirections through the ORM's plain
# queries and computes in Python: CI runs these once, in the SQLite phase (docs/testing.md).
pytestmark = pytest.mark.backend_independent


def test_lexicon_rewrites_whole_words_longest_first():
    lexicon = Lexicon([("bb", "bébé"), ("piqué", "volé"), ("id card", "carte d'identité")])
    assert lexicon.rewrite("Passeport pr mon BB") == "passeport pour mon bebe"
    assert lexicon.rewrite("on m'a Piqué mon id card") == "on m a vole mon carte d identite"
    assert lexicon.rewrite("bbox en panne") == "bbox en panne"  # whole words only


def test_lexicon_entries_match_texting_and_standard_spellings_alike():
    lexicon = Lexicon([("j'ai zappé", "j'ai oublié"), ("nvlle adresse", "déménagement")])
    assert lexicon.rewrite("g zappé de m'actualiser") == "j ai oublie de m actualiser"
    assert lexicon.rewrite("jai zapé") == "j ai zape"  # one entry, not its misspellings
    assert lexicon.rewrite("ma nouvelle adresse") == "ma demenagement"
    assert lexicon.rewrite("jsui parti, ma nvl adresse") == "je suis parti ma demenagement"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("on s'est dit oui en juin", "mariage"),
        ("ils se sont dit oui", "mariage"),
        ("c'est débité chaque mois", "preleve"),
        ("le document fiscal de 2024", "avis d imposition"),
        ("how is it progressing", "suivi"),
    ],
)
def test_the_default_lexicon_knows_everyday_words(text, words):
    lexicon = Lexicon((e["term"], e["replacement"]) for e in default_entries())
    assert words in lexicon.rewrite(text)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I lost my passport", "en"),
        ("how do I create an account", "en"),
        ("j'ai perdu mon passeport", "fr"),
        ("on me demande mon RIB", "fr"),
        ("passeport", "fr"),
    ],
)
def test_language_is_detected_per_message(text, language):
    assert detect_language(text) == language


@pytest.mark.django_db
def test_an_editors_synonym_changes_answers_at_once(kb):
    # A made-up word (the sentence encoder guessed "ma carte ... à la pharmacie" on its own).
    question = "mon zorglub est tout tordu"
    assert engine.get_engine().answer(question).article_slug != "carte-vitale-perdue"
    Synonym.objects.create(term="zorglub", replacement="carte Vitale abîmée")
    assert engine.get_engine().answer(question).article_slug == "carte-vitale-perdue"


@pytest.mark.django_db
def test_seeded_lexicon_understands_slang_countries_and_english(kb):
    bot = engine.get_engine()
    assert (
        bot.answer("on part en Grèce cet été, il faut une carte pour les soins ?").article_slug
        == "ceam"
    )
    assert bot.answer("I lost my passport").article_slug == "passeport-perdu-vole"
    assert bot.answer("jai paumé ma cni").article_slug == "carte-identite-perdue-volee"


@pytest.mark.django_db
def test_english_question_gets_french_article_with_a_note(kb, citizen):
    payload = services.post_chatbot_message(citizen, "I forgot my password")
    assert payload["article"]["slug"] == "mot-de-passe-oublie"
    assert payload["language"] == "en"
    assert "only available in French" in payload["text"]


@pytest.mark.django_db
def test_unanswered_question_is_attached_to_an_article_in_one_click(
    kb, citizen, admin_user, client_as
):
    services.post_chatbot_message(citizen, "ma carte zorglub ne passe plus")
    turn = Turn.objects.get(question="ma carte zorglub ne passe plus")
    assert turn.outcome == Turn.Outcome.DONT_KNOW
    article = Article.objects.get(slug="carte-vitale-perdue")
    version = article.version
    response = client_as(admin_user).post(
        "/admin/knowledge/unansweredquestion/",
        {"action": "attach_to_article", "_selected_action": [turn.pk], "article": article.pk},
    )
    assert response.status_code == 302
    article.refresh_from_db()
    assert article.questions[-1] == "ma carte zorglub ne passe plus"
    assert article.version == version + 1
    # Twice the same question: not added again.
    assert services.attach_questions(article, ["Ma carte ZORGLUB ne passe plus"]) == 0
    listing = client_as(admin_user).get("/admin/knowledge/unansweredquestion/")
    assert "zorglub" in listing.content.decode()


def test_attaching_tells_the_editor_which_questions_still_get_another_answer(
    kb, citizen, admin_user, client_as
):
    # A redirection trigger in a citizen's question wins over the article it is attached to.
    Redirection.objects.update_or_create(
        slug="aides-logement",
        defaults={
            "title": "Aides au logement",
            "organisation": "CAF",
            "triggers": ["apl"],
            "message": "Les aides au logement sont versées par la CAF.",
        },
    )
    article = Article.objects.get(slug="garant-logement-etudiant")
    vitale = Article.objects.get(slug="carte-vitale-perdue")
    questions = [
        "le proprio veut un garant et je touche l'apl",  # a redirection trigger
        vitale.questions[0],  # another article's own example question
        "ma carte zorglub ne passe plus",  # nothing in the base is close
    ]
    conversation = Conversation.objects.create(user=citizen)
    turns = [
        Turn.objects.create(
            conversation=conversation, seq=seq, question=q, outcome=Turn.Outcome.DONT_KNOW
        )
        for seq, q in enumerate(questions, 1)
    ]
    response = client_as(admin_user).post(
        "/admin/knowledge/unansweredquestion/",
        {
            "action": "attach_to_article",
            "_selected_action": [t.pk for t in turns],
            "article": article.pk,
        },
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert shown[0] == f"3 question(s) ajoutée(s) aux questions types de « {article.title} »."
    warning = (
        "L'assistant ne répond toujours pas avec cet article à « {} » ({}) : vérifiez les "
        "redirections et les autres articles."
    )
    assert sorted(shown[1:]) == sorted(
        [
            warning.format(questions[0], "redirigée : « Aides au logement »"),
            warning.format(questions[1], f"autre article : « {vitale.title} »"),
            warning.format(questions[2], "toujours « je ne sais pas »"),
        ]
    )
    # An agent-only article: the assistant never answers citizens with it, nothing to check.
    article.audience = Article.Audience.AGENT
    article.save()
    assert services.answered_otherwise(article, questions) == []


def test_last_clause_of_a_long_message():
    assert engine.last_clause("carte vitale perdue") is None  # short: the whole message counts
    story = (
        "Bonjour, mes parents sont divorcés et ma mère gagne à peine le smic, "
        "comment demander une bourse d'études ?"
    )
    assert engine.last_clause(story) == "comment demander une bourse d'etudes"
    # A last clause without two content words is joined to the one before.
    ending = "j'ai encore touché le chômage après ma reprise de travail, je fais quoi ?"
    assert engine.last_clause(ending) == (
        "j'ai encore touche le chomage apres ma reprise de travail je fais quoi"
    )


@pytest.mark.django_db
def test_long_message_is_ranked_on_its_last_clause(kb):
    message = (
        "après ma reprise de travail j'ai continué à toucher les allocations sans faire exprès "
        "et maintenant ils veulent que je rembourse tout d'un coup, je ne peux pas"
    )
    # Since the situation example questions, the whole message ranks right too: what is
    # checked is that ranking on the last clause still does.
    assert engine.last_clause(message) is not None
    assert engine.get_engine().answer(message).article_slug == "trop-percu-allocations"


@pytest.mark.django_db
def test_the_default_lexicon_is_installed_without_touching_editors_entries():
    """What migration 0008 runs (and ``import_kb`` on an empty table): every default entry,
    except where an editor's entry already has the term."""
    from importlib import import_module

    from django.apps import apps

    Synonym.objects.all().delete()
    Synonym.objects.create(term="bb", replacement="nourrisson", note="editor")
    import_module("knowledge.migrations.0008_default_lexicon").add_default_lexicon(apps, None)
    terms = set(Synonym.objects.values_list("term", flat=True))
    assert terms == {e["term"] for e in default_entries()}
    assert Synonym.objects.get(term="bb").replacement == "nourrisson"
    assert install_default_lexicon(Synonym) == 0  # nothing twice


@pytest.mark.django_db
def test_migration_0015_adds_the_new_defaults_to_a_deployment_and_nothing_else():
    """A deployment installed before 0015 holds the older defaults, some deleted or changed by
    its editors: 0015 adds its own new terms only."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("knowledge.migrations.0015_more_default_lexicon")
    Synonym.objects.all().delete()
    Synonym.objects.create(term="débité", replacement="retiré", note="editor")
    migration.add_new_defaults(apps, None)
    assert set(Synonym.objects.values_list("term", flat=True)) == set(migration.NEW_TERMS)
    assert Synonym.objects.get(term="débité").replacement == "retiré"
    assert {e["term"] for e in default_entries()} >= set(migration.NEW_TERMS)


@pytest.mark.django_db
def test_editors_add_the_default_entries_their_lexicon_lacks(kb, admin_user, client_as):
    """Defaults shipped after the deployment was installed, or deleted by its editors, are
    listed on their own page; the editor adds the ones ticked or all of them, once."""
    Synonym.objects.filter(term__in=["débité", "progressing"]).delete()
    client = client_as(admin_user)
    listing = client.get("/admin/knowledge/synonym/").content.decode()
    assert "2 entrées par défaut absentes" in listing
    page = client.get("/admin/knowledge/synonym/entrees-par-defaut/").content.decode()
    assert "« débité » → « prélevé »" in page and "« progressing » → « suivi »" in page
    assert "« bb »" not in page  # already in the lexicon
    # Nothing ticked: nothing added, the page says what to do.
    response = client.post("/admin/knowledge/synonym/entrees-par-defaut/", {"_selected": "1"})
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "Cochez au moins une entrée, ou ajoutez-les toutes."
    ]
    url = "/admin/knowledge/synonym/entrees-par-defaut/"
    response = client.post(url, {"_selected": "1", "term": ["débité"]}, follow=True)
    assert "1 entrée par défaut ajoutée au lexique." in [
        str(m) for m in response.context["messages"]
    ]
    assert Synonym.objects.get(term="débité").replacement == "prélevé"
    # The same submission again (a double click, a reload) adds nothing twice.
    client.post(url, {"_selected": "1", "term": ["débité"]})
    assert Synonym.objects.filter(term="débité").count() == 1
    client.post(url, {"_all": "1"})
    assert Synonym.objects.count() == len(default_entries())
    assert (
        "Votre lexique contient toutes les entrées par défaut." in client.get(url).content.decode()
    )
    assert "absente" not in client.get("/admin/knowledge/synonym/").content.decode()


@pytest.mark.django_db
def test_supervisors_find_the_missing_defaults_in_their_editor(kb, supervisor, citizen, client_as):
    Synonym.objects.filter(term="débité").delete()
    url = "/console/connaissances/gestion/knowledge/synonym/entrees-par-defaut/"
    response = client_as(supervisor).post(url, {"_all": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/console/connaissances/gestion/knowledge/synonym/"
    assert Synonym.objects.filter(term="débité").exists()
    assert client_as(citizen).get(url).status_code == 403


@pytest.mark.django_db
def test_editors_add_the_shipped_out_of_scope_examples_they_lack(
    kb, citizen, admin_user, client_as
):
    """An existing deployment does not receive the examples shipped after it was installed
    (its editors own the table): they are listed on their own page, added ticked or all at
    once, and an answer citizens rated helpful that one of them now declines is named."""
    from knowledge.encoder import install_default_out_of_scope, out_of_scope_examples

    install_default_out_of_scope(OutOfScopeExample)
    # Unemployment rights after a resignation are France Travail's rules, not this base's.
    resign = "si je démissionne est ce que jai droit au chomage"
    far = "quelle est la capitale de l'Australie"
    assert {resign, far} <= set(out_of_scope_examples())
    OutOfScopeExample.objects.filter(question__in=[resign, far]).delete()
    # Without its example, the question is answered, and a citizen found the answer helpful.
    asked = resign
    payload = services.post_chatbot_message(citizen, asked)
    assert payload["article"]["slug"] == "inscription-demandeur-emploi"
    Turn.objects.filter(pk=payload["turn"]).update(rating=1)

    client = client_as(admin_user)
    listing = client.get("/admin/knowledge/outofscopeexample/").content.decode()
    assert "2 exemples fournis absents" in listing
    url = "/admin/knowledge/outofscopeexample/exemples-par-defaut/"
    page = client.get(url).content.decode()
    assert f"« {resign} »" in page and "« quelle est la capitale de l&#x27;Australie »" in page
    response = client.post(url, {"_selected": "1"})
    assert [str(m) for m in response.context["messages"]] == [
        "Cochez au moins un exemple, ou ajoutez-les tous."
    ]
    response = client.post(url, {"_selected": "1", "question": [resign]}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert shown[0] == "1 exemple hors champ fourni ajouté."
    assert len(shown) == 2 and shown[1].startswith(f"« {asked} », bien répondue")
    assert shown[1].endswith("désactivez l'exemple ajouté qui la refuse.")
    assert services.post_chatbot_message(citizen, asked)["article"] is None
    # The same submission again (a double click, a reload) adds nothing twice.
    client.post(url, {"_selected": "1", "question": [resign]})
    assert OutOfScopeExample.objects.filter(question=resign).count() == 1
    client.post(url, {"_all": "1"})
    assert OutOfScopeExample.objects.count() == len(out_of_scope_examples())
    complete = client.get(url).content.decode()
    assert "Vos exemples hors champ contiennent tous ceux fournis" in complete
    assert "absent" not in client.get("/admin/knowledge/outofscopeexample/").content.decode()


@pytest.mark.django_db
def test_import_kb_installs_the_default_lexicon_into_an_empty_table(tmp_path):
    Synonym.objects.all().delete()
    kb = tmp_path / "kb.json"
    kb.write_text(
        '{"topics": [], "articles": [], "synonyms": [{"term": "bb", "replacement": "enfant"}]}',
        encoding="utf-8",
    )
    call_command("import_kb", str(kb), verbosity=0)
    assert Synonym.objects.count() == len(default_entries())
    assert Synonym.objects.get(term="bb").replacement == "enfant"  # the file wins


@pytest.mark.django_db
def test_attaching_warns_about_the_answers_it_takes_away(kb, citizen, admin_user, client_as):
    # A question citizens found well answered by the payment article...
    confirmed = "comment payer mes impôts en ligne"
    payload = services.post_chatbot_message(citizen, confirmed)
    assert payload["article"]["slug"] == "payer-impot"
    Turn.objects.filter(pk=payload["turn"]).update(rating=1)
    # ... another one, rated helpful too, that the attachment leaves alone.
    other = services.post_chatbot_message(citizen, "j'ai perdu ma carte vitale")
    Turn.objects.filter(pk=other["turn"]).update(rating=1)
    assert [q for q, _, _ in services.confirmed_answers()] == [
        "j'ai perdu ma carte vitale",
        confirmed,
    ]
    # An editor attaches a close question to the online tax return article: the payment
    # question now goes there, and the editor is told.
    online = Article.objects.get(slug="declaration-revenus-en-ligne")
    payment = Article.objects.get(slug="payer-impot")
    conversation = Conversation.objects.create(user=citizen)
    turn = Turn.objects.create(
        conversation=conversation,
        seq=1,
        question="Comment payer mes impôts en ligne quand je déclare ?",
        outcome=Turn.Outcome.DONT_KNOW,
    )
    response = client_as(admin_user).post(
        "/admin/knowledge/unansweredquestion/",
        {"action": "attach_to_article", "_selected_action": [turn.pk], "article": online.pk},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert shown[-1] == (
        f"« {confirmed} », bien répondue jusqu'ici par l'article « {payment.title} », reçoit "
        f"maintenant l'article « {online.title} » : reformulez ou retirez la question "
        "rattachée qui l'attire."
    )
    assert not [m for m in shown if "carte vitale" in m]


def _rated_helpful(citizen, question: str, slug: str) -> None:
    payload = services.post_chatbot_message(citizen, question)
    assert payload["article"]["slug"] == slug
    Turn.objects.filter(pk=payload["turn"]).update(rating=1)


@pytest.mark.django_db
def test_a_lexicon_entry_that_takes_answers_away_is_named_to_the_editor(
    kb, citizen, admin_user, client_as
):
    confirmed = "comment payer mes impôts en ligne"
    _rated_helpful(citizen, confirmed, "payer-impot")
    _rated_helpful(citizen, "j'ai perdu ma carte vitale", "carte-vitale-perdue")
    payment = Article.objects.get(slug="payer-impot")
    client = client_as(admin_user)
    # An entry that changes nothing citizens rated: saved, no warning.
    response = client.post(
        "/admin/knowledge/synonym/add/",
        {"term": "bidulotron", "replacement": "truc", "is_active": "on", "note": ""},
        follow=True,
    )
    assert Synonym.objects.filter(term="bidulotron").exists()
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]
    # An entry that turns "payer" into "déclarer": the payment question goes elsewhere.
    response = client.post(
        "/admin/knowledge/synonym/add/",
        {"term": "payer", "replacement": "déclarer mes revenus", "is_active": "on", "note": ""},
        follow=True,
    )
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert warnings[0].startswith(
        f"« {confirmed} », bien répondue jusqu'ici par l'article « {payment.title} », reçoit "
        "maintenant "
    )
    assert warnings[0].endswith(": vérifiez la modification que vous venez d'enregistrer.")
    # Switching it off from the list gives the answer back: nothing is taken away.
    entry = Synonym.objects.get(term="payer")
    response = client.post(
        "/admin/knowledge/synonym/",
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": entry.pk,
            "form-0-replacement": entry.replacement,
            "_save": "Enregistrer",
        },
        follow=True,
    )
    entry.refresh_from_db()
    assert not entry.is_active
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]
    assert services.post_chatbot_message(citizen, confirmed)["article"]["slug"] == "payer-impot"


@pytest.mark.django_db
def test_an_invalid_form_saves_nothing_and_replays_nothing(kb, citizen, admin_user, client_as):
    _rated_helpful(citizen, "comment payer mes impôts en ligne", "payer-impot")
    response = client_as(admin_user).post(
        "/admin/knowledge/synonym/add/", {"term": "", "replacement": ""}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not list(response.context["messages"])


# --- out-of-scope examples: "marquer hors champ" ---------------------------------------------


@pytest.mark.django_db
def test_import_kb_installs_the_products_out_of_scope_examples(kb):
    from knowledge.encoder import out_of_scope_examples

    shipped = set(out_of_scope_examples())
    # 200 written from the articles, 398 out-of-scope questions of the read batches 3 to 10.
    assert len(shipped) == 598
    assert set(OutOfScopeExample.objects.values_list("question", flat=True)) == shipped
    # An editor switches one off: the engine no longer uses it.
    example = OutOfScopeExample.objects.order_by("pk").first()
    example.is_active = False
    example.save()
    assert example.question not in engine.active_out_of_scope()
    assert len(engine.active_out_of_scope()) == 597


@pytest.mark.django_db
def test_a_disputed_answer_marked_out_of_scope_is_declined_at_once(
    kb, citizen, admin_user, client_as
):
    # A collector's registration is not the purchase article's subject (a used car bought in
    # France); the assistant answers it with that article all the same.
    question = "carte grise de collection pour une vieille 2CV, comment faire ?"
    payload = services.post_chatbot_message(citizen, question)
    assert payload["article"]["slug"] == "carte-grise-achat-vehicule"
    turn = Turn.objects.get(pk=payload["turn"])
    Turn.objects.filter(pk=turn.pk).update(rating=-1)
    # Another answer, well rated, and a declined question are not "contested answers".
    services.post_chatbot_message(citizen, "j'ai perdu ma carte vitale")
    client = client_as(admin_user)
    listing = client.get("/admin/knowledge/disputedanswer/").content.decode()
    assert "2CV" in listing and "carte vitale" not in listing
    response = client.post(
        "/admin/knowledge/disputedanswer/",
        {"action": "mark_out_of_scope", "_selected_action": [turn.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["1 question(s) ajoutée(s) aux questions hors champ."]
    assert OutOfScopeExample.objects.filter(question=question, is_active=True).exists()
    bot = engine.get_engine()
    assert bot.answer(question).kind == "dont_know"
    bought = "j'ai acheté une voiture d'occasion, comment je fais la carte grise ?"
    assert bot.answer(bought).article_slug == "carte-grise-achat-vehicule"
    # Marked again (any spelling): not added twice; switched off: answered again.
    assert services.mark_out_of_scope([question.upper()])[0] == 0
    example = OutOfScopeExample.objects.get(question=question)
    example.is_active = False
    example.save()  # as the admin's list does
    assert engine.get_engine().answer(question).article_slug == "carte-grise-achat-vehicule"


@pytest.mark.django_db
def test_marking_out_of_scope_names_the_good_answers_it_declines(
    kb, citizen, admin_user, client_as
):
    # A citizen rated an answer helpful for a collector's registration; an editor then marks
    # another collector's registration out of scope: the first one is declined too.
    rated = "Comment obtenir une carte grise de collection pour ma vieille 2CV ?"
    _rated_helpful(citizen, rated, "declaration-cession-vehicule")
    marked = "carte grise de collection pour une vieille 2CV, comment faire ?"
    turn = Turn.objects.get(pk=services.post_chatbot_message(citizen, marked)["turn"])
    Turn.objects.filter(pk=turn.pk).update(rating=-1)
    response = client_as(admin_user).post(
        "/admin/knowledge/disputedanswer/",
        {"action": "mark_out_of_scope", "_selected_action": [turn.pk]},
        follow=True,
    )
    title = Article.objects.get(slug="declaration-cession-vehicule").title
    assert [str(m) for m in response.context["messages"]] == [
        "1 question(s) ajoutée(s) aux questions hors champ.",
        f"« {rated} », bien répondue jusqu'ici par l'article « {title} », reçoit maintenant "
        "plus de réponse : retirez ou désactivez la question hors champ qui l'écarte.",
    ]


def test_every_change_that_steers_the_assistant_replays_the_good_answers():
    from knowledge import admin as knowledge_admin

    for site in (django_admin.site, knowledge_admin.editor_site):
        for model in (Article, Synonym, Redirection, OutOfScopeExample):
            assert isinstance(site.get_model_admin(model), knowledge_admin.ReplaysConfirmedAnswers)


@pytest.mark.django_db
def test_marking_an_articles_own_question_out_of_scope_warns_the_editor(
    kb, citizen, supervisor, client_as
):
    # An example question of an article is as close to the article as to the new example:
    # the assistant still answers it, and the editor is told which article to reword.
    own = Article.objects.get(slug="carte-vitale-perdue").questions[0]
    conversation = Conversation.objects.create(user=citizen)
    turn = Turn.objects.create(
        conversation=conversation, seq=1, question=own, outcome=Turn.Outcome.DONT_KNOW
    )
    response = client_as(supervisor).post(
        "/console/connaissances/gestion/knowledge/unansweredquestion/",
        {"action": "mark_out_of_scope", "_selected_action": [turn.pk]},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"]]
    title = Article.objects.get(slug="carte-vitale-perdue").title
    assert shown[1] == (
        f"L'assistant répond toujours à « {own} » par l'article « {title} » "
        "(une de ses questions types en est trop proche)."
    )


@pytest.mark.django_db
def test_chatbot_rerank_on_the_database_uses_its_out_of_scope_examples(kb, tmp_path):
    """Run on the database (no ``--kb``), the command describes and reports questions with the
    editors' out-of-scope examples, not the product's file: a question marked "hors champ" is
    declined in its report, as the assistant declines it."""
    import json

    question = "carte grise de collection pour une vieille 2CV, comment faire ?"
    rows = [
        {"q": "j'ai perdu ma carte vitale", "expected": "carte-vitale-perdue"},
        {"q": "comment payer mes impôts", "expected": "payer-impot"},
        {
            "q": "j'ai acheté une voiture d'occasion, la carte grise ?",
            "expected": "carte-grise-achat-vehicule",
        },
        {"q": "comment avoir le RSA", "expected": None, "kind": "out_of_scope"},
    ] * 3
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    negatives = tmp_path / "negatives.txt"
    negatives.write_text("horaires de la mairie\nprix du timbre\n", encoding="utf-8")
    asked = tmp_path / "asked.jsonl"
    asked.write_text(
        json.dumps({"q": question, "expected": None, "kind": "out_of_scope"}, ensure_ascii=False),
        encoding="utf-8",
    )

    def declined() -> float:
        out = io.StringIO()
        call_command(
            "chatbot_rerank",
            *("--dataset", str(train), "--negatives", str(negatives), "--eval", str(asked)),
            *("--folds", "3", "--min-dont-know", "0.5", "--json"),
            stdout=out,
        )
        return json.loads(out.getvalue())["eval"]["asked"]["dont_know"]

    assert declined() == 0.0
    services.mark_out_of_scope([question])
    assert declined() == 1.0
