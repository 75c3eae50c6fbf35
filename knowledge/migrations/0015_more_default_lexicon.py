"""Default lexicon entries shipped after a deployment was installed: a wedding told as "se dire
oui", a direct debit told as "débité", the tax notice told as "document fiscal", "progressing"
for following a request. Only these terms are added, and only where the table does not hold
them: an editor's entry is never changed, a default an editor deleted does not come back."""

from django.db import migrations

NEW_TERMS = (
    "débité",
    "débitée",
    "débités",
    "débiter",
    "débite",
    "s'est dit oui",
    "se sont dit oui",
    "nous sommes dit oui",
    "se dire oui",
    "document fiscal",
    "documents fiscaux",
    "avis fiscal",
    "progressing",
)


def add_new_defaults(apps, schema_editor):
    from knowledge.lexicon import install_default_lexicon

    install_default_lexicon(apps.get_model("knowledge", "Synonym"), terms=NEW_TERMS)


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0014_turn_confirmed_time"),
    ]

    operations = [
        migrations.RunPython(add_new_defaults, migrations.RunPython.noop),
    ]
