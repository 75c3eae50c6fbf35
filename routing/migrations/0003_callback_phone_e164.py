from django.db import migrations

import contactcenter.phones


def callback_phones_to_e164(apps, schema_editor):
    """Callback numbers in E.164 (contactcenter.phones): an overseas number that the old check
    stored with the metropolitan prefix ("+33692123456") becomes its real number
    ("+262692123456"). A value that does not parse is kept as it is."""
    CallbackRequest = apps.get_model("routing", "CallbackRequest")
    for pk, number in CallbackRequest.objects.values_list("pk", "phone"):
        normalized = contactcenter.phones.normalize_stored(number)
        if normalized != number:
            CallbackRequest.objects.filter(pk=pk).update(phone=normalized)


class Migration(migrations.Migration):

    dependencies = [
        ("routing", "0002_opening_hours_on_holidays"),
    ]

    operations = [
        migrations.RunPython(callback_phones_to_e164, migrations.RunPython.noop, elidable=True),
    ]
