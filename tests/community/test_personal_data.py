"""The personal-data check of forum posts: each kind found, validated numbers only, masks."""

import pytest

from community import personal_data as pd

# Same on every database: CI runs it in the SQLite phase only (docs/testing.md).
pytestmark = pytest.mark.backend_independent


def nir(body: str) -> str:
    return body + f"{97 - int(body.replace('2A', '19').replace('2B', '18')) % 97:02d}"


def spi(first10: str) -> str:
    return first10 + f"{int(first10) % 511:03d}"


def kinds(text: str, **kwargs) -> list[str]:
    return [f.kind for f in pd.find_personal_data(text, **kwargs)]


def test_social_security_number_needs_its_valid_key():
    good = nir("1850578006084")
    assert pd.nir_is_valid(good)
    assert kinds(
        f"Mon numéro : {good[:1]} {good[1:3]} {good[3:5]} {good[5:7]} {good[7:10]} "
        f"{good[10:13]} {good[13:]}",
        names=False,
    ) == ["nir"]
    wrong = good[:13] + f"{(int(good[13:]) + 1) % 97:02d}"
    assert not pd.nir_is_valid(wrong)
    assert "nir" not in kinds(f"Référence {wrong}", names=False)


def test_corsican_social_security_number():
    good = nir("290012A004012")
    assert pd.nir_is_valid(good)
    assert kinds(f"NIR {good}", names=False) == ["nir"]


def test_tax_number_check_digits():
    good = spi("1234567890")
    assert pd.tax_number_is_valid(good)
    assert kinds(f"Mon numéro fiscal est {good}.", names=False) == ["tax_number"]
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    assert kinds(f"Montant {bad}.", names=False) == []


def test_iban_mod_97():
    assert pd.iban_is_valid("FR76 3000 6000 0112 3456 7890 189")
    assert kinds("Virez sur FR76 3000 6000 0112 3456 7890 189 merci", names=False) == ["iban"]
    assert not pd.iban_is_valid("FR76 3000 6000 0112 3456 7890 188")
    assert kinds("Virez sur FR76 3000 6000 0112 3456 7890 188 merci", names=False) == []


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Appelez-moi au 06 12 34 56 78.", "phone"),
        ("Mon fixe : 0692-12-34-56", "phone"),
        ("Écrivez à camille.martin@example.fr svp", "email"),
        ("J'habite au 12 bis rue des Lilas, à côté de la gare.", "address"),
        ("Envoyez à 75011 Paris", "address"),
        ("Je suis née le 12/03/1985 à Lille", "birthdate"),
        ("date de naissance : 3 avril 1990", "birthdate"),
    ],
)
def test_each_kind_is_found(text, kind):
    assert kind in kinds(text, names=False)


@pytest.mark.parametrize(
    "text",
    [
        "J'ai payé 12000 euros d'impôts en 2025.",
        "Le dossier date du 12/03/2025, réponse sous 30 jours.",
        "Ma fille est née en 2010 : est-elle encore à charge ?",
        "Le montant est de 1234567890123 centimes.",
    ],
)
def test_ordinary_text_is_not_flagged(text):
    assert kinds(text, names=False) == []


def test_names_of_people_come_from_the_french_ner_model():
    if not pd.ner_available():
        pytest.skip("fr_core_news_sm is not installed")
    found = pd.find_personal_data("Bonjour, mon voisin Jean-Pierre Durand a reçu le même courrier.")
    assert [(f.kind, f.text) for f in found] == [("name", "Jean-Pierre Durand")]
    assert kinds("Bonjour, comment déclarer une pension alimentaire ?") == []


def test_mask_replaces_each_finding_and_describe_names_them():
    text = "Tél 06 12 34 56 78, mail a.b@example.fr."
    findings = pd.find_personal_data(text, names=False)
    assert pd.mask(text, findings) == (
        "Tél [téléphone masqué], mail [adresse électronique masquée]."
    )
    message = pd.describe(findings)
    assert "un numéro de téléphone (« 06 12 34 56 78 »)" in message
    assert "une adresse électronique (« a.b@example.fr »)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J'ai un cancer, puis-je avoir un arrêt plus long ?", True),
        ("Je suis enceinte, quels examens sont remboursés ?", True),
        ("Mon traitement contre le diabète est-il pris en charge ?", True),
        ("Comment déclarer des frais médicaux pour mon père ?", False),
        ("Quel délai pour la carte Vitale ?", False),
    ],
)
def test_health_questions_about_oneself(text, expected):
    assert pd.is_personal_health_question(text) is expected
