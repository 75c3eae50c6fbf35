from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("contactcenter", "0016_agentprofile_sip_extension")]
    operations = []
