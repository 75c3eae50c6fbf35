"""Import throughput of the e-mail channel from a real IMAP server.

Starts a throw-away Dovecot on loopback (``tests/mail/dovecot.py``, as the mail tests do),
delivers N generated e-mails to its inbox by IMAP APPEND (untimed), then measures in the same
run:

- the **baseline**: reading the whole folder the way the channel does (SEARCH for the messages
  not flagged, FETCH ``BODY.PEEK[]`` by batches of 50) and parsing each message with the
  standard library, without any database work nor flag: the floor any importer pays;
- the **import**: ``mail.imap.poll`` on the same folder (fetch, ``import_message``: parse,
  thread, identify the sender, check the attachments, guess the topic, open or thread the
  case, acknowledge, commit; then flag ``$GuichetImported`` on the server).

Mix: sizes from a few hundred bytes to 100 KB, 20 % with an attachment (a PDF or a PNG, which
go through the core's content checks), 30 % replies to an earlier e-mail (threaded by
``In-Reply-To``), half the senders verified citizens, and 1 % delivered twice. Reports
e-mails/s, the p50/p95/max import time per message, CPU time per message, the ratio
import/baseline, duplicates (cases or messages imported twice: must be 0) and lost (delivered
Message-IDs with no imported message, or messages left unflagged: must be 0). Celery runs eager
in this process (routing and the acknowledgement run inline: a conservative figure).

Target: >= 50 e-mails/s; exits with status 1 when missed or when anything is lost or doubled.

    .venv/bin/python bench/mail_import.py                  # 10,000 e-mails
    .venv/bin/python bench/mail_import.py --messages 300   # a quick check
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/guichet .venv/bin/python bench/mail_import.py
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import random
import statistics
import sys
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD_ENV = "GUICHET_BENCH_IMAP_PASSWORD"
AUTHSERV_ID = "mx.guichet.bench"
SENTENCE = (
    "bonjour je vous écris au sujet de ma déclaration de revenus taxe foncière avis "
    "d'imposition prélèvement à la source remboursement délai pièce justificative adresse "
    "déménagement montant échéance paiement rectification situation familiale enfant "
    "merci de votre réponse cordialement"
)
WORDS = SENTENCE.split()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def body_of(rng: random.Random) -> str:
    roll = rng.random()
    size = (
        rng.randint(300, 2_000)
        if roll < 0.70
        else rng.randint(2_000, 20_000)
        if roll < 0.95
        else rng.randint(50_000, 100_000)
    )
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return "Bonjour,\n\n" + "\n".join(lines) + "\n\nCordialement,\nun usager"


def generate(n: int, seed: int, citizens: list[str]) -> tuple[list[bytes], set[str], int]:
    """The sources to deliver (duplicates included), the distinct Message-IDs, and how many
    of them start a new request."""
    from tests.upload_samples import valid_pdf, valid_png

    rng = random.Random(seed)
    pdf, png = valid_pdf(), valid_png()
    originals: list[tuple[str, str, str]] = []  # (message_id, sender, subject) of new requests
    sources: list[bytes] = []
    ids: set[str] = set()
    new = 0
    for i in range(n):
        msg = EmailMessage()
        # The receiving server's verdict (docs/mail.md): verified senders recognised, replies
        # threaded, as in production.
        msg["Authentication-Results"] = f"{AUTHSERV_ID}; dmarc=pass"
        reply_to = rng.choice(originals) if originals and rng.random() < 0.30 else None
        if reply_to is not None:
            parent, sender, subject = reply_to
            msg["Subject"] = f"Re: {subject}"
            msg["In-Reply-To"] = parent
            msg["References"] = parent
        else:
            sender = rng.choice(citizens) if rng.random() < 0.5 else f"inconnu{i}@example.org"
            subject = f"Question {i} sur ma {rng.choice(['taxe foncière', 'déclaration'])}"
            msg["Subject"] = subject
            new += 1
        msg["From"] = sender
        msg["To"] = "impots@guichet.test"
        message_id = make_msgid(idstring=str(i), domain="example.org")
        msg["Message-ID"] = message_id
        msg.set_content(body_of(rng))
        if rng.random() < 0.20:
            if i % 2:
                msg.add_attachment(pdf, maintype="application", subtype="pdf", filename="avis.pdf")
            else:
                msg.add_attachment(png, maintype="image", subtype="png", filename="photo.png")
        if reply_to is None:
            originals.append((message_id, sender, subject))
        raw = msg.as_bytes()
        sources.append(raw)
        ids.add(message_id)
        if rng.random() < 0.01:
            sources.append(raw)  # delivered twice
    return sources, ids, new


def baseline(host: str, port: int, login: str, secret: str) -> tuple[int, float]:
    """Read and parse the folder as the channel does, without the database nor the flags."""
    from imapclient import IMAPClient

    from mail.imap import FETCH_BATCH, IMPORTED_FLAG

    start = time.perf_counter()
    client = IMAPClient(host, port=port, ssl=False, timeout=30)
    client.login(login, secret)
    client.select_folder("INBOX", readonly=True)
    uids = sorted(client.search(["NOT", "KEYWORD", IMPORTED_FLAG.decode()]))
    count = 0
    for first in range(0, len(uids), FETCH_BATCH):
        batch = uids[first : first + FETCH_BATCH]
        data = client.fetch(batch, ["BODY.PEEK[]"])
        for uid in batch:
            raw = data[uid][b"BODY[]"]
            parsed = email.message_from_bytes(bytes(raw), policy=email.policy.default)
            part = parsed.get_body(preferencelist=("plain", "html"))
            if part is not None:
                part.get_content()
            for item in parsed.iter_attachments():
                item.get_content()
            count += 1
    client.logout()
    return count, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000, help="e-mails (10000)")
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument(
        "--eager", action="store_true", help="run the queued tasks (routing...) inline"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    os.environ.setdefault("TEST_DB_NAME", "test_guichet_mail_bench")
    import django

    django.setup()
    import logging

    from django.db import connection
    from django.test.utils import setup_test_environment

    from contactcenter.celery import app

    logging.getLogger("celery").setLevel(logging.WARNING)
    setup_test_environment()  # outgoing mail in memory (the acknowledgements)
    # The poll worker hands routing and the acknowledgement to other workers: queued on an
    # in-memory broker here (never the Redis of REDIS_URL); --eager runs them inline.
    app.conf.task_always_eager = args.eager
    app.conf.update(broker_url="memory://")
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args) -> int:
    import tempfile

    from django.conf import settings
    from django.db import connection
    from imapclient import IMAPClient

    from contactcenter.models import Case, Service, Topic, User
    from mail import imap as reader
    from mail.headers import message_key
    from mail.models import Mailbox, MailMessage
    from tests.mail.dovecot import IMAP_LOGIN, IMAP_PASSWORD, start_dovecot

    settings.MEDIA_ROOT = tempfile.mkdtemp(prefix="guichet-mail-bench-")
    settings.MAIL_AUTHSERV_ID = AUTHSERV_ID
    print(f"Base de données : {connection.vendor}")
    server = start_dovecot()
    os.environ[PASSWORD_ENV] = IMAP_PASSWORD
    try:
        service = Service.objects.create(code="impots", name="Service des impôts")
        topic = Topic.objects.create(slug="impots-general", title="Impôts", service=service)
        mailbox = Mailbox.objects.create(
            service=service,
            address="impots@guichet.test",
            default_topic=topic,
            host=server.host,
            port=server.port,
            security=Mailbox.Security.NONE,
            login=IMAP_LOGIN,
            password_env=PASSWORD_ENV,
        )
        citizens = [f"usager{i}@example.fr" for i in range(200)]
        User.objects.bulk_create(
            [User(username=a, email=a, role=User.Role.CITIZEN) for a in citizens]
        )
        sources, ids, new = generate(args.messages, args.seed, citizens)
        client = IMAPClient(server.host, port=server.port, ssl=False, timeout=30)
        client.login(IMAP_LOGIN, IMAP_PASSWORD)
        start = time.perf_counter()
        for raw in sources:
            client.append("INBOX", raw)
        print(
            f"Dépôt IMAP (APPEND) de {len(sources)} courriels "
            f"({len(sources) - len(ids)} livrés deux fois, "
            f"{sum(map(len, sources)) / 1e6:.1f} Mo) : {time.perf_counter() - start:.1f} s"
        )

        read, base_wall = baseline(server.host, server.port, IMAP_LOGIN, IMAP_PASSWORD)
        base_rate = read / base_wall
        print(
            f"Référence (lecture IMAP + analyse, sans base) : {read} courriels en "
            f"{base_wall:.1f} s, {base_rate:.0f} courriels/s"
        )

        timings: list[float] = []
        original = reader.import_message

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                timings.append((time.perf_counter() - t0) * 1000)

        reader.import_message = timed
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = reader.poll(mailbox)
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        reader.import_message = original
        rate = report.fetched / wall

        client.select_folder("INBOX")
        unflagged = len(client.search(["NOT", "KEYWORD", reader.IMPORTED_FLAG.decode()]))
        client.logout()
        keys = {message_key(i, b"") for i in ids}
        imported = set(
            MailMessage.objects.filter(
                mailbox=mailbox, direction=MailMessage.Direction.INBOUND
            ).values_list("key", flat=True)
        )
        lost = len(keys - imported) + unflagged
        cases = Case.objects.count()
        inbound = MailMessage.objects.filter(direction=MailMessage.Direction.INBOUND).count()
        duplicates = max(0, cases - new) + max(0, inbound - len(ids))

        print(
            f"Import (mail.imap.poll) : {report.fetched} courriels en {wall:.1f} s, "
            f"{rate:.1f} courriels/s ; résultats {report.outcomes}"
        )
        print(
            f"Temps par courriel : p50={percentile(timings, 50):.1f} ms  "
            f"p95={percentile(timings, 95):.1f} ms  max={max(timings):.1f} ms  "
            f"moyenne={statistics.fmean(timings):.1f} ms ; "
            f"CPU de ce processus {cpu / max(report.fetched, 1) * 1000:.1f} ms/courriel"
        )
        print(
            f"Rapport import/référence : débit {rate / base_rate:.3f} "
            f"(temps ×{wall / base_wall:.1f})"
        )
        print(
            f"Dossiers ouverts : {cases} (attendus {new}) ; en double : {duplicates} ; "
            f"perdus : {lost} (non marqués sur le serveur : {unflagged})"
        )
        print(f"Charge moyenne (1, 5, 15 min) : {os.getloadavg()}")
        verdict = rate >= 50 and duplicates == 0 and lost == 0
        print(
            f"Objectif ≥ 50 courriels/s, 0 double, 0 perdu : "
            f"{'atteint' if verdict else 'NON atteint'}"
        )
        return 0 if verdict else 1
    finally:
        os.environ.pop(PASSWORD_ENV, None)
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
