"""The default lexicon (knowledge/default_lexicon.json) written into the editors' table, so a
fresh database understands texting, slang, situations and English before any KB is imported.
An entry is added only where its term is new: editors' entries are never changed."""

from django.db import migrations


def add_default_lexicon(apps, schema_editor):
    from knowledge.lexicon import install_default_lexicon

    install_default_lexicon(apps.get_model("knowledge", "Synonym"))


class Migration(migrations.Migration):
    dependencies = [
        ("knowledge", "0007_article_translation"),
    ]

    operations = [
        migrations.RunPython(add_default_lexicon, migrations.RunPython.noop),
    ]
