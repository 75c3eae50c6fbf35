import pytest

from knowledge import text as T
from knowledge.engine import KnowledgeEngine
from knowledge.intents import detect_distress, is_abuse
from knowledge.rendering import excerpt, plain_text, render_markdown

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent


def test_fold_removes_accents_case_and_letter_repeats():
    assert T.fold("Impôts ÉTÉ Œuvre") == "impots ete oeuvre"
    assert T.fold("Merciiii") == "merci"


def test_raw_tokens_split_elisions_and_expand_abbreviations():
    assert T.raw_tokens("J'ai perdu l'attestation") == ["j", "ai", "perdu", "l", "attestation"]
    assert T.raw_tokens("mon mdp") == ["mon", "mot", "de", "passe"]
    assert T.raw_tokens("mon appart") == ["mon", "appartement|logement"]
    assert T.raw_tokens("je pars en Espagne à Lyon") == ["je", "pars", "en", "etranger|voyage", "a"]


def test_texting_spellings_are_written_out():
    assert T.expand_sms("jsui o chomage jai bosse 20h").split() == [
        "je",
        "suis",
        "au",
        "chomage",
        "j",
        "ai",
        "bosse",
        "heures",
    ]
    assert T.content_tokens("jme rappel plu de mon mdp") == ["oublie", "mot"]
    assert T.content_tokens("g perdu ma cni avc mon otre carte") == [
        "perdu",
        "carte",
        "identite",
        "carte",
    ]
    assert T.expand_sms("c quand quon recoit jvois pas jsais pas") == (
        "c quand qu on recoit je vois pas je sais pas"
    )
    # an apostrophe left out before a texting word: "lapplie" is "l'appli"
    assert T.expand_sms("sur lapplie jusqua demain") == "sur l appli jusqu a demain"
    assert T.content_tokens("sur lapplie du restau") == ["application", "restaurant"]
    # whole words only: "gps", "ot" inside words and digits stay as they are
    assert T.expand_sms("mon gps cote 4g") == "mon gps cote 4g"


def test_colloquial_expressions_are_normalised():
    assert "suivi" in T.content_tokens("où en est ma demande")
    assert "franceconnect" in T.content_tokens("avec France Connect")
    assert T.content_tokens("je ne me souviens plus") == ["oublie"]


def test_stems_meet_across_inflections_and_accents():
    assert T.stem(T.fold("déclaration")) == T.stem("declarer")
    assert T.stem("perte") == T.stem("perdu")
    assert T.stem("inscription") == T.stem("inscrire")
    # irregular verbs: every form of one verb meets the others
    for family in (
        "reçoit reçois reçoivent reçu reçue recevoir recevez recevra recevront",
        "perçoit perçu perçue percevoir percevez",
        "obtient obtiennent obtenu obtenue obtenir obtiendrai",
        "envoie envoient envoyé envoyer enverrai",
        "vend vendent vendre vendu vendue vente",
        "suivre suivi suivie suivez suivons suivent",
    ):
        stems = {T.stem(T.fold(word)) for word in family.split()}
        assert len(stems) == 1, stems
    # "je suis", "ce qui suit": not "suivre"
    assert T.stem("suis") != T.stem("suivre") and T.stem("suit") != T.stem("suivre")


def test_phonetic_key_joins_spellings_that_sound_alike():
    assert T.phonetic("bloker") == T.phonetic("bloque")
    assert T.phonetic("bource") == T.phonetic("bourse")
    assert T.phonetic("pharmacy") == T.phonetic("pharmacie")
    assert T.phonetic("carte") != T.phonetic("compte")


def test_damerau_levenshtein_counts_transpositions_once():
    assert T.damerau_levenshtein("carte", "crate") == 1
    assert T.damerau_levenshtein("vitale", "vital") == 1
    assert T.damerau_levenshtein("abc", "xyz", limit=2) == 3


@pytest.mark.parametrize(
    "text, expected",
    [
        ("C'est URGENT !!!", True),
        ("je n'en peux plus", True),
        ("vous êtes des incompétents", True),
        ("bande de connards", True),
        ("j'ai perdu ma carte vitale", False),
        ("comment payer mes impôts", False),
    ],
)
def test_distress_detection(text, expected):
    assert detect_distress(text) is expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("franchement ton aide vaut zéro, pire assistant jamais croisé", True),
        ("Service lamentable, vous êtes une bande de parasites payés avec mon argent", True),
        ("t'es vraiment nul comme robot", True),
        ("useless bot", True),
        # A question is answered, however it is said.
        ("t'es nul, comment je refais ma carte vitale ?", False),
        ("c'est nul, pourquoi mon remboursement n'arrive pas", False),
        ("bande d'incapables", True),
        # Not insults, or not aimed at us: a situation told with a word of anger.
        ("je ne retrouve ma carte vitale nulle part", False),
        ("au pire je refais mon passeport", False),
        ("des voleurs ont pris mes papiers", False),
        ("c'est nul, j'ai perdu ma carte vitale", False),
        ("le pire c'est que mon passeport expire avant le départ", False),
        ("j'ai honte de demander mais je n'ai plus de quoi payer mon loyer", False),
        ("inutile de vous dire que je suis pressé, mon permis a été volé", False),
    ],
)
def test_an_insult_that_asks_nothing_is_told_apart(text, expected):
    assert is_abuse(text) is expected


SMALLTALK = [
    ("bonjour", ["salut"], "Bonjour !"),
    ("merci", ["merci"], "Avec plaisir."),
    ("parler-agent", ["je veux parler à un conseiller"], "Bien sûr."),
]


@pytest.mark.parametrize(
    "question, slug",
    [
        ("Bonjour !", "bonjour"),
        ("slt", "bonjour"),
        ("coucou y a quelqu'un ?", "bonjour"),
        ("merciii beaucoup", "merci"),
        ("ok super, bonne journée", "merci"),
        ("au revoir", "merci"),
        ("je veux parler à un conseiller", "parler-agent"),
        ("passez-moi un humain svp", "parler-agent"),
        ("je voudrais un rendez-vous avec un conseiller", "parler-agent"),
        ("je veux une vraie personne, pas un robot", "parler-agent"),
    ],
)
def test_smalltalk_is_recognised(question, slug):
    engine = KnowledgeEngine([], SMALLTALK)
    reply = engine.answer(question)
    assert reply.smalltalk is not None and reply.smalltalk.slug == slug


def test_sending_a_document_to_my_adviser_is_not_a_request_for_a_human():
    engine = KnowledgeEngine([], SMALLTALK)
    assert engine.answer("je voudrais envoyer un document à mon conseiller").kind != "handoff"


def test_markdown_helpers():
    source = "# Titre\n\n- Un **pas**\n- [Lien](https://example.fr)\n\n1. Un\n2. Deux"
    assert plain_text(source) == "Titre\n\n- Un pas\n- Lien\n\n1. Un\n2. Deux"
    assert excerpt("mot " * 100, 20).endswith("…")
    html = str(render_markdown('<a href="javascript:x()">x</a><style>p{}</style>'))
    assert "javascript" not in html and "<style" not in html
