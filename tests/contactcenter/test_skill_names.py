"""Skill names read in French, with their accents, in the demo and after the data migration."""

import importlib

import pytest
from django.apps import apps

from contactcenter.demo import ensure_reference_data
from contactcenter.models import Skill

pytestmark = pytest.mark.django_db

migration = importlib.import_module("contactcenter.migrations.0008_skill_names_with_accents")


def test_demo_skills_have_accented_names():
    ensure_reference_data()
    names = dict(Skill.objects.values_list("code", "name"))
    assert names["impots"] == "Impôts"
    assert names["sante"] == "Santé"
    assert names["etudiants"] == "Étudiants"
    assert names["emploi"] == "Emploi"


def test_migration_accents_slug_names_and_keeps_edited_ones():
    Skill.objects.create(code="impots", name="Impots")
    Skill.objects.create(code="etudiants", name="Etudiants")
    Skill.objects.create(code="sante", name="Santé publique et prévention")
    migration.accent_skill_names(apps, None)
    names = dict(Skill.objects.values_list("code", "name"))
    assert names == {
        "impots": "Impôts",
        "etudiants": "Étudiants",
        "sante": "Santé publique et prévention",
    }
