"""Phone numbers in one place (contactcenter.phones, on ``phonenumbers``): every French
territory, E.164 storage, display, precise refusals, and stored numbers migrated."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.template import Context, Template

from contactcenter import phones
from contactcenter.models import User


@pytest.mark.parametrize(
    ("typed", "e164", "shown"),
    [
        ("06 12 34 56 78", "+33612345678", "06 12 34 56 78"),
        ("07.98.76.54.32", "+33798765432", "07 98 76 54 32"),
        ("0033 6 12 34 56 78", "+33612345678", "06 12 34 56 78"),
        ("+33 6 12 34 56 78", "+33612345678", "06 12 34 56 78"),
        # La Réunion and Mayotte (+262), national and international forms.
        ("0692 12 34 56", "+262692123456", "0692 12 34 56"),
        ("+262 692 12 34 56", "+262692123456", "0692 12 34 56"),
        ("0639 01 23 45", "+262639012345", "0639 01 23 45"),
        ("+262 639 01 23 45", "+262639012345", "0639 01 23 45"),
        # Guadeloupe (+590), Guyane (+594), Martinique (+596).
        ("0690-00-12-34", "+590690001234", "0690 00 12 34"),
        ("+590 690 00 12 34", "+590690001234", "0690 00 12 34"),
        ("0694 20 12 34", "+594694201234", "0694 20 12 34"),
        ("+594 694 20 12 34", "+594694201234", "0694 20 12 34"),
        ("0696 20 12 34", "+596696201234", "0696 20 12 34"),
        ("+596 696 20 12 34", "+596696201234", "0696 20 12 34"),
        # Collectivities with their own plan: Nouvelle-Calédonie, Polynésie, SPM, Wallis.
        ("+687 75 12 34", "+687751234", "+687 75.12.34"),
        ("+689 87 12 34 56", "+68987123456", "+689 87 12 34 56"),
        ("+508 55 12 34", "+508551234", "+508 55 12 34"),
        ("+681 82 12 34", "+681821234", "+681 82 12 34"),
    ],
)
def test_french_mobiles_of_every_territory(typed, e164, shown):
    assert phones.parse_mobile(typed) == e164
    assert phones.parse_phone(typed) == e164
    assert phones.format_phone(e164) == shown


def test_a_landline_is_a_phone_but_not_a_mobile():
    assert phones.parse_phone("01 23 45 67 89") == "+33123456789"
    assert phones.parse_phone("0262 21 00 00") == "+262262210000"
    with pytest.raises(ValidationError) as exc:
        phones.parse_mobile("01 23 45 67 89")
    assert exc.value.messages == [
        "Ce numéro n'est pas un numéro de mobile : les SMS ne peuvent être envoyés qu'à un "
        "mobile (06, 07, 0692, 0690…)."
    ]


def test_an_overseas_mobile_stored_with_the_metropolitan_prefix_is_understood():
    # The former check accepted "0692..." and stored "+33692...", which does not exist.
    assert phones.parse_mobile("+33692123456") == "+262692123456"
    assert phones.format_phone("+33692123456") == "0692 12 34 56"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("06 12", "Ce numéro est trop court : un numéro français compte 10 chiffres"),
        ("+33 6 12", "Ce numéro est trop court"),
        ("06 12 34 56 78 9", "Ce numéro est trop long : un numéro français compte 10 chiffres"),
        ("07 12 34 56 78", "Ce numéro n'existe pas dans le plan de numérotation français"),
        ("06 12 AB 56 78", "Un numéro de téléphone ne contient que des chiffres"),
        ("612345678", "Commencez le numéro par 0 (par exemple 06 12 34 56 78) ou par l'indicatif"),
        (
            "+44 7700 900123",
            "Seuls les numéros français sont acceptés (métropole et outre-mer) : "
            "l'indicatif +44 n'est pas français.",
        ),
        ("+269 321 23 45", "L'indicatif +269 est celui des Comores"),
        ("", "Saisissez un numéro de mobile français valide, par exemple 06 12 34 56 78."),
    ],
)
def test_invalid_numbers_are_refused_with_a_precise_message(typed, message):
    with pytest.raises(ValidationError) as exc:
        phones.parse_mobile(typed)
    assert len(exc.value.messages) == 1
    assert exc.value.messages[0].startswith(message)


def test_unparsable_stored_values_are_shown_and_kept_as_they_are():
    assert phones.format_phone("n/a") == "n/a"
    assert phones.format_phone("") == ""
    assert phones.normalize_stored("0700000000") == "0700000000"


def test_the_user_model_validates_and_stores_e164(citizen):
    citizen.mobile_phone = "0692 12 34 56"
    citizen.full_clean()
    assert citizen.mobile_phone == "+262692123456"
    citizen.mobile_phone = "01 23 45 67 89"
    with pytest.raises(ValidationError) as exc:
        citizen.full_clean()
    assert exc.value.message_dict["mobile_phone"][0].startswith(
        "Ce numéro n'est pas un numéro de mobile"
    )


def test_the_phone_filter_formats_for_display():
    rendered = Template("{% load phones %}{{ n|phone }}").render(Context({"n": "+262692123456"}))
    assert rendered == "0692 12 34 56"


def test_the_migration_stores_every_mobile_in_e164(citizen, citizen2, agent_a):
    User.objects.filter(pk=citizen.pk).update(mobile_phone="06 12 34 56 78")
    User.objects.filter(pk=citizen2.pk).update(mobile_phone="+33692123456")
    User.objects.filter(pk=agent_a.pk).update(mobile_phone="0700000000")  # invalid: kept
    migration = importlib.import_module("contactcenter.migrations.0012_user_mobile_phone_e164")
    migration.mobiles_to_e164(apps, None)
    numbers = dict(User.objects.values_list("pk", "mobile_phone"))
    assert numbers[citizen.pk] == "+33612345678"
    assert numbers[citizen2.pk] == "+262692123456"
    assert numbers[agent_a.pk] == "0700000000"


def test_messages_are_translated():
    from django.utils import translation

    with translation.override("en"):
        with pytest.raises(ValidationError) as exc:
            phones.parse_mobile("+44 7700 900123")
        assert exc.value.messages == [
            "Only French numbers are accepted (metropolitan France and overseas): the country "
            "code +44 is not French."
        ]
