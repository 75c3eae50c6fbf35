"""Attachment checks: size, count and type recognised from the content, never from the name.

Only PDF, JPEG and PNG are accepted. The first bytes must carry the format's signature and the
file's structure must be sane (a PDF has its trailer, a JPEG its end marker, a PNG its IHDR and
IEND chunks), so an executable renamed ``.pdf`` — or a PDF header glued in front of one — is
refused with a message that says exactly why.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

# Signatures of executables and archives that are refused whatever the name says.
EXECUTABLE_SIGNATURES = (
    (b"MZ", "Windows"),
    (b"\x7fELF", "Linux"),
    (b"\xcf\xfa\xed\xfe", "macOS"),
    (b"\xce\xfa\xed\xfe", "macOS"),
    (b"\xca\xfe\xba\xbe", "macOS"),
    (b"#!", "script"),
)
EXTENSIONS = {PDF: {".pdf"}, JPEG: {".jpg", ".jpeg"}, PNG: {".png"}}
PREFERRED_EXTENSION = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}


@dataclass(frozen=True)
class CheckedFile:
    name: str
    content_type: str
    size: int
    sha256: str


def format_size(size: int) -> str:
    """French size: '850 Ko', '12,3 Mo' (1 Mo = 1024 Ko, as file managers show)."""
    mib = 1024 * 1024
    if size < 1024:
        return _("%(n)s octets") % {"n": size}
    if size < mib:
        return _("%(n)s Ko") % {"n": max(1, round(size / 1024))}
    value = f"{size / mib:.1f}".replace(".", ",").removesuffix(",0")
    return _("%(n)s Mo") % {"n": value}


def max_bytes() -> int:
    return settings.GUICHET_ATTACHMENT_MAX_BYTES


def max_count() -> int:
    return settings.GUICHET_ATTACHMENT_MAX_COUNT


def _read_head_and_tail(upload, head: int = 2048, tail: int = 2048) -> tuple[bytes, bytes, str]:
    digest = hashlib.sha256()
    upload.seek(0)
    first = b""
    last = b""
    chunks = upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(65536), b"")
    for chunk in chunks:
        if len(first) < head:
            first += chunk[: head - len(first)]
        last = (last + chunk)[-tail:]
        digest.update(chunk)
    upload.seek(0)
    return first, last, digest.hexdigest()


def sniff(first: bytes, last: bytes) -> str | None:
    """The content type proven by the bytes, or None."""
    if first.startswith(b"%PDF-") and b"%%EOF" in last:
        return PDF
    if first.startswith(b"\xff\xd8\xff") and last.rstrip(b"\x00\r\n").endswith(b"\xff\xd9"):
        return JPEG
    if first.startswith(b"\x89PNG\r\n\x1a\n") and first[12:16] == b"IHDR" and b"IEND" in last[-16:]:
        return PNG
    return None


def _looks_executable(first: bytes) -> bool:
    return any(first.startswith(sig) for sig, _os in EXECUTABLE_SIGNATURES)


def clean_name(name: str) -> str:
    """A display name without any path, control character or oversize."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')
    return (base or "document")[:200]


def check_upload(upload) -> CheckedFile:
    """Validate one uploaded file; raise ValidationError with a precise French message."""
    name = clean_name(getattr(upload, "name", ""))
    size = upload.size
    if size == 0:
        raise ValidationError(
            _("Le fichier « %(name)s » est vide.") % {"name": name}, code="empty_file"
        )
    if size > max_bytes():
        raise ValidationError(
            _("Le fichier « %(name)s » pèse %(size)s ; %(max)s au maximum par fichier.")
            % {
                "name": name,
                "size": format_size(size)
                if format_size(size) != format_size(max_bytes())
                else _("plus de %(max)s") % {"max": format_size(max_bytes())},
                "max": format_size(max_bytes()),
            },
            code="file_too_large",
        )
    first, last, digest = _read_head_and_tail(upload)
    if _looks_executable(first):
        raise ValidationError(
            _(
                "Le fichier « %(name)s » est un programme, pas un document : il est refusé. "
                "Seuls les fichiers PDF, JPEG et PNG sont acceptés."
            )
            % {"name": name},
            code="executable",
        )
    content_type = sniff(first, last)
    ext = os.path.splitext(name)[1].lower()
    if content_type is None:
        if ext in EXTENSIONS[PDF] | EXTENSIONS[JPEG] | EXTENSIONS[PNG]:
            message = _(
                "Le fichier « %(name)s » porte l'extension %(ext)s mais son contenu n'est pas "
                "un fichier %(format)s valide (fichier abîmé ou déguisé). Seuls les fichiers PDF, "
                "JPEG et PNG sont acceptés."
            ) % {
                "name": name,
                "ext": ext,
                "format": {".pdf": "PDF", ".png": "PNG"}.get(ext, "JPEG"),
            }
        else:
            message = _(
                "Le fichier « %(name)s » n'est pas accepté : seuls les fichiers PDF, JPEG et PNG "
                "le sont."
            ) % {"name": name}
        raise ValidationError(message, code="invalid_type")
    if ext not in EXTENSIONS[content_type]:
        # Keep the real type visible in the name the agent downloads.
        stem = os.path.splitext(name)[0] or "document"
        name = f"{stem[:190]}{PREFERRED_EXTENSION[content_type]}"
    return CheckedFile(name=name, content_type=content_type, size=size, sha256=digest)


def check_uploads(uploads, already: int = 0) -> list[CheckedFile]:
    """Validate a message's files: count first, then each file. All errors are collected."""
    uploads = list(uploads or ())
    if len(uploads) + already > max_count():
        raise ValidationError(
            _("Vous avez joint %(count)s fichiers ; %(max)s au maximum par message.")
            % {"count": len(uploads) + already, "max": max_count()},
            code="too_many_files",
        )
    errors: list[ValidationError] = []
    checked: list[CheckedFile] = []
    for upload in uploads:
        try:
            checked.append(check_upload(upload))
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise ValidationError(errors)
    return checked
