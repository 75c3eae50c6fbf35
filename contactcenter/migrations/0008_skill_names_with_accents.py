"""The demo named its skills after their slugs ("Impots", "Sante", "Etudiants"): give them their
French names. Only names still equal to the slug's title case are changed (a name an admin edited
stays as it is)."""

from django.db import migrations

NAMES = {
    "impots": "Impôts",
    "titres": "Titres",
    "compte": "Compte",
    "sante": "Santé",
    "etudiants": "Étudiants",
    "emploi": "Emploi",
}


def accent_skill_names(apps, schema_editor):
    Skill = apps.get_model("contactcenter", "Skill")
    for code, name in NAMES.items():
        Skill.objects.filter(code=code, name=code.title()).update(name=name)


def unaccent_skill_names(apps, schema_editor):
    Skill = apps.get_model("contactcenter", "Skill")
    for code, name in NAMES.items():
        Skill.objects.filter(code=code, name=name).update(name=code.title())


class Migration(migrations.Migration):
    dependencies = [("contactcenter", "0007_case_queue_head_per_channel")]

    operations = [migrations.RunPython(accent_skill_names, unaccent_skill_names)]
