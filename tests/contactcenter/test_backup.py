"""Backups (bin/backup, bin/restore; docs/operations.md "Backups and restore"): a database with
cases, messages, attachments and a chat is dumped with pg_dump and its private files archived,
restored with pg_restore into a new database and folder, and Guichet itself, started on the
restored copy, finds every case, message and file, byte for byte. PostgreSQL phase only."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from chat.models import ChatMessage, Conversation
from contactcenter.models import Case, Event
from messaging import services as messaging
from messaging.models import Attachment
from tests.upload_samples import upload, valid_pdf

ROOT = Path(django_settings.BASE_DIR)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not django_settings.USING_POSTGRES or not shutil.which("pg_dump"),
        reason="PostgreSQL and its client tools only",
    ),
]

# What the restored Guichet reports: counts, texts and the files' checksums, read with the ORM.
REPORT = """
import hashlib, json
from contactcenter.models import Case, Event
from messaging.models import Attachment
from chat.models import ChatMessage
print(json.dumps({
    "cases": sorted(Case.objects.values_list("reference", flat=True)),
    "messages": sorted(Event.objects.exclude(body="").values_list("body", flat=True)),
    "chat": sorted(ChatMessage.objects.values_list("body", flat=True)),
    "files": sorted(
        (a.original_name, hashlib.sha256(a.file.open("rb").read()).hexdigest())
        for a in Attachment.objects.all()
    ),
}))
"""


def database_url(name: str) -> str:
    conf = connection.settings_dict
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf["PASSWORD"] else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{name}"


def run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result.stdout


def guichet_env(database: str, media: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "CELERY_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="contactcenter.settings",
        DATABASE_URL=database_url(database),
        MEDIA_ROOT=str(media),
        GUICHET_SMS_QUIET_START="0",
        GUICHET_SMS_QUIET_END="0",
    )
    return env


def test_a_dump_restored_into_a_new_database_has_every_case_message_and_file(
    settings, tmp_path, citizen, agent_a, topic_a
):
    media, backups, restored_media = tmp_path / "media", tmp_path / "backups", tmp_path / "new"
    settings.MEDIA_ROOT = str(media)
    case = messaging.create_request(
        citizen,
        topic_a,
        Case.Kind.QUESTION,
        "Pension de réversion",
        "Ma pension n'est pas arrivée ce mois-ci.",
        files=[upload("avis.pdf", valid_pdf())],
    )
    messaging.post_agent_reply(case, agent_a, "Nous regardons votre dossier.")
    chat = Conversation.objects.create(case=case, citizen=citizen, status="ended")
    ChatMessage.objects.create(
        conversation=chat, seq=1, client_id="b1", kind="citizen", sender=citizen, body="Allô ?"
    )
    expected = {
        "cases": [case.reference],
        "messages": sorted(Event.objects.exclude(body="").values_list("body", flat=True)),
        "chat": ["Allô ?"],
        "files": [
            (a.original_name, hashlib.sha256(a.file.open("rb").read()).hexdigest())
            for a in Attachment.objects.all()
        ],
    }
    assert len(expected["messages"]) >= 2 and len(expected["files"]) == 1

    source = connection.settings_dict["NAME"]
    printed = run(["bin/backup", str(backups)], guichet_env(source, media)).split()
    dump, archive = Path(printed[0]), Path(printed[1])
    assert dump.stat().st_size > 0 and archive.stat().st_size > 0
    assert oct(dump.stat().st_mode & 0o777) == "0o600"  # personal data: owner only

    target = f"{source}_restore_{uuid.uuid4().hex[:8]}"
    conf = connection.settings_dict
    server = ["-h", conf["HOST"] or "127.0.0.1", "-p", str(conf["PORT"] or 5432)]
    server += ["-U", conf["USER"]]
    run(["createdb", *server, target], dict(os.environ))
    try:
        env = guichet_env(target, restored_media)
        run(["bin/restore", str(dump)], env)
        report = json.loads(
            run([sys.executable, "manage.py", "shell", "-c", REPORT], env).splitlines()[-1]
        )
        assert report == json.loads(json.dumps(expected))
        # A second restore over it is refused unless forced: nothing is overwritten by mistake.
        refused = subprocess.run(
            ["bin/restore", str(dump)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert refused.returncode == 3 and "RESTORE_FORCE=1" in refused.stderr
    finally:
        run(["dropdb", *server, "--if-exists", "--force", target], dict(os.environ))
