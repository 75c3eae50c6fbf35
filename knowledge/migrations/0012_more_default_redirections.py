"""Three more default subjects of other bodies (student loans, university registrar matters,
vehicle history certificates): added to a deployment that already holds the defaults. Triggers
added to the existing defaults are not written into a deployment's rows, which are the
editors' (they reach it through ``import_kb`` of a KB file or the editors themselves)."""

from django.db import migrations

NEW_SLUGS = ("pret-etudiant", "scolarite-universite", "non-gage")


def add_new_defaults(apps, schema_editor):
    from knowledge.redirections import install_default_redirections

    install_default_redirections(apps.get_model("knowledge", "Redirection"), slugs=NEW_SLUGS)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0011_redirection_kind"),
    ]

    operations = [
        migrations.RunPython(add_new_defaults, migrations.RunPython.noop),
    ]
