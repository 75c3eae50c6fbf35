"""Self-service "request a document": the attestation of one of the caller's requests,
generated as a PDF (fpdf2) and posted to their secure messaging thread with the usual
content-free alert (core's ``post_service_document``; messaging stores the attachment).

The dialogue step (``document_request``) runs in the call's thread like the other
self-services of ``voice.ivr``: caller ID and second factor first, then the reference."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from fpdf import FPDF

from contactcenter.models import Case, Channel, Event
from contactcenter.services import post_service_document

from . import services
from .models import Call

if TYPE_CHECKING:
    from .ivr import Dialogue

KIND = "document"
MAX_ATTEMPTS = 2


def _latin1(text: str) -> str:
    """PDF core fonts (Helvetica) encode Latin-1: typographic characters are replaced, other
    letters lose their accents rather than the document failing."""
    text = (
        str(text)
        .replace("œ", "oe")
        .replace("Œ", "OE")
        .replace("’", "'")
        .replace("–", "-")
        .replace("—", "-")
        .replace("…", "...")
        .replace("\u202f", " ")
        .replace("\u00a0", " ")
    )
    try:
        text.encode("latin-1")
        return text
    except UnicodeEncodeError:
        decomposed = unicodedata.normalize("NFKD", text)
        return "".join(c for c in decomposed if c.encode("latin-1", "ignore"))


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return _("%(day)s à %(time)s") % {
        "day": date_format(local, "j F Y"),
        "time": local.strftime("%H:%M"),
    }


def attestation_pdf(case: Case, *, issued_at: datetime | None = None) -> bytes:
    """The attestation of a request: who asked what, when, where it stands."""
    issued_at = issued_at or timezone.now()
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(_("Attestation de demande %(ref)s") % {"ref": case.reference}))
    pdf.set_author("Guichet")
    pdf.set_creation_date(issued_at)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(case.service.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 20)
    pdf.ln(6)
    pdf.cell(0, 12, _latin1(_("Attestation de dépôt de demande")), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    rows = [
        (_("Référence"), case.reference),
        (_("Demandeur"), case.citizen.display_name),
        (_("Objet"), case.subject),
        (_("Thème"), case.topic.title),
        (_("Nature"), case.get_kind_display()),
        (_("Déposée le"), _when(case.created_at)),
        (_("Canal"), case.get_channel_display()),
        (_("État au %(day)s") % {"day": _when(issued_at)}, case.get_status_display()),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(55, 8, _latin1(label))
        pdf.set_font("Helvetica", "", 11)
        pdf.multi_cell(0, 8, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 10)
    pdf.multi_cell(
        0,
        6,
        _latin1(
            _(
                "Le service %(service)s atteste avoir reçu la demande ci-dessus. Document "
                "délivré le %(day)s à la demande de l'usager, par le serveur vocal, après "
                "vérification de son identité."
            )
            % {"service": case.service.name, "day": _when(issued_at)}
        ),
    )
    return bytes(pdf.output())


def attestation_name(case: Case) -> str:
    return f"attestation-{case.reference}.pdf"


def send_attestation(call: Call, case: Case) -> Event:
    """Post the attestation of ``case`` (the verified caller's own) to its messaging thread."""
    assert case.citizen_id == call.citizen_id
    return post_service_document(
        case,
        str(
            _(
                "Voici l'attestation de votre demande %(reference)s, demandée par téléphone "
                "au serveur vocal."
            )
            % {"reference": case.reference}
        ),
        [(attestation_name(case), attestation_pdf(case))],
        channel=Channel.PHONE,
    )


def document_request(dialogue: Dialogue, position: str) -> None:
    """Self-service: the caller types a reference of theirs, the attestation is posted."""
    call = dialogue.call
    position = f"{position}:{KIND}"
    services.record_step(call, "self_service_start", position, kind=KIND)
    if not dialogue.identified(KIND, position):
        return
    for _attempt in range(MAX_ATTEMPTS):
        dialogue.say(
            _(
                "Pour recevoir l'attestation d'une demande dans votre messagerie sécurisée, "
                "tapez les %(count)s chiffres de son numéro, sans le tiret, puis dièse."
            )
            % {"count": services.REFERENCE_DIGITS},
            position,
        )
        case = services.own_case(call, dialogue.collect(services.REFERENCE_DIGITS))
        if case is None:
            dialogue.say(services.not_found_speech(), position)
            continue
        send_attestation(call, case)
        # Posted: recorded before the confirmation, which a hang-up may cut short.
        dialogue.self_service_done(KIND, completed=True, reference=case.reference)
        dialogue.say(
            _(
                "L'attestation de votre demande numéro %(reference)s vient d'être déposée "
                "dans votre messagerie sécurisée. Vous allez recevoir l'alerte habituelle."
            )
            % {"reference": services.spoken_digits(case.reference)},
            position,
        )
        return
    dialogue.self_service_done(KIND, completed=False, reason="not_found")
