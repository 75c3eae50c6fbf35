"""Demo data of the messaging app: the documents citizens said they attached."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.db import transaction

from contactcenter.attachments import check_upload
from contactcenter.models import Event

from .models import Attachment


def simple_pdf(lines: list[str]) -> bytes:
    """A small, valid one-page PDF showing ``lines`` (Latin-1 text, Helvetica)."""
    text_ops = ["BT", "/F1 12 Tf", "72 770 Td", "16 TL"]
    for line in lines:
        safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({safe}) '")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


DEMO_DOCUMENTS = {
    # subject of a demo thread -> (file name, lines)
    "Contestation de la taxe d'habitation": (
        "etat-des-lieux-de-sortie.pdf",
        ["Etat des lieux de sortie", "Logement : 12 rue des Lilas, 69003 Lyon", "Date : 15/12"],
    ),
}


@transaction.atomic
def load_demo_attachments() -> int:
    """Attach the documents the demo citizens mention. Idempotent (once per message)."""
    created = 0
    for subject, (name, lines) in DEMO_DOCUMENTS.items():
        firsts = (
            Event.objects.filter(case__subject=subject, type=Event.Type.MESSAGE)
            .exclude(actor__isnull=True)
            .select_related("case")
            .order_by("case_id", "created_at", "id")
        )
        seen: set[int] = set()
        for event in firsts:
            if event.case_id in seen or event.actor_id != event.case.citizen_id:
                continue
            seen.add(event.case_id)
            if Attachment.objects.filter(event=event).exists():
                continue
            content = ContentFile(simple_pdf(lines), name=name)
            info = check_upload(content)
            attachment = Attachment(
                case=event.case,
                event=event,
                uploaded_by_id=event.actor_id,
                original_name=info.name,
                content_type=info.content_type,
                size=info.size,
                sha256=info.sha256,
                created_at=event.created_at,
            )
            attachment.file.save(attachment.extension, info.as_file(), save=False)
            attachment.save()
            Event.objects.filter(pk=event.pk).update(payload={**event.payload, "attachments": 1})
            created += 1
    return created
