"""Attachment checks shared by every channel: size, count, and content proven by parsing.

Only PDF, JPEG and PNG are accepted, recognised from the bytes, never from the name:

- the whole file is read; a real Windows (``MZ`` … ``PE\\0\\0`` at ``e_lfanew``) or Linux
  (``\\x7fELF`` with a valid identification) executable anywhere in it is refused;
- a PDF must open with a real parser (pypdf, strict mode: valid cross-reference table,
  trailer and page tree, at least one page), carry nothing after its last ``%%EOF``, no HTML
  outside its streams, and no active content: JavaScript (``/JS``, ``/JavaScript``, XFA forms),
  launch or import actions, embedded files or file attachments — every object of the file is
  inspected, referenced or not;
- an image must decode entirely (Pillow) within a pixel budget (decompression bombs are
  refused), and is then **re-encoded**: what is stored is the new image, without its metadata
  (EXIF, GPS position, comments, colour profile) and without anything hidden in or after it.

``check_upload`` returns a ``CheckedFile`` whose ``content`` holds the bytes to store (the
re-encoded image, or the validated PDF unchanged); every save stores those, never the raw
upload. Refusals are ``ValidationError`` with a French message naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _

logger = logging.getLogger("contactcenter.attachments")

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"

# Signatures of executables that are refused as such when a file starts with them.
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
FORMAT_LABEL = {PDF: "PDF", JPEG: "JPEG", PNG: "PNG"}

# An image is decoded in memory: 40 million pixels is about 160 MB in RGBA, a generous photo.
DEFAULT_MAX_PIXELS = 40_000_000

# Inspecting an object costs about 0.2 ms: a cap keeps the check within a few seconds. Long
# documents have a few thousand objects (a 500-page book about 20,000).
MAX_PDF_OBJECTS = 25_000

# PDF names that make a document active or a container of other files.
_PDF_SCRIPT_KEYS = {"/JS", "/JavaScript", "/XFA"}
_PDF_EMBEDDED_KEYS = {"/EmbeddedFiles", "/EmbeddedFile", "/EF"}
_PDF_SCRIPT_ACTIONS = {"/JavaScript", "/RichMediaExecute"}
_PDF_LAUNCH_ACTIONS = {"/Launch", "/ImportData"}
_PDF_EMBEDDED_ACTIONS = {"/GoToE"}
_PDF_EMBEDDED_SUBTYPES = {"/FileAttachment", "/RichMedia", "/EmbeddedFile"}

# Stream bodies are the PDF's own data (compressed or not); HTML is looked for outside them.
_HTML_MARKUP = re.compile(
    rb"<\s*(?:!doctype\s+html|html|head|body|script|iframe|object|embed|svg|meta|form)\b",
    re.I,
)
_PDF_TRAILING_OK = b" \t\r\n\x00\x0c"


@dataclass(frozen=True)
class CheckedFile:
    """A validated file: its display name, real type, and the bytes to store."""

    name: str
    content_type: str
    size: int
    sha256: str
    content: bytes = field(default=b"", repr=False)

    def as_file(self) -> ContentFile:
        """The bytes to store, as a Django file (give this to ``FieldFile.save``)."""
        return ContentFile(self.content, name=self.name)


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


def max_pixels() -> int:
    return getattr(settings, "GUICHET_ATTACHMENT_MAX_PIXELS", DEFAULT_MAX_PIXELS)


def clean_name(name: str) -> str:
    """A display name without any path, control character or oversize."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|:*?')
    return (base or "document")[:200]


def _read_all(upload, limit: int) -> bytes:
    """The upload's bytes, at most ``limit + 1`` of them (the caller checks the size)."""
    upload.seek(0)
    parts: list[bytes] = []
    total = 0
    chunks = upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(65536), b"")
    for chunk in chunks:
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            break
    upload.seek(0)
    return b"".join(parts)


def sniff(data: bytes) -> str | None:
    """The content type announced by the first bytes (the parsers then prove it), or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    return None


def _starts_as_program(data: bytes) -> bool:
    return any(data.startswith(sig) for sig, _os in EXECUTABLE_SIGNATURES)


def hidden_executable(data: bytes) -> str | None:
    """'Windows' or 'Linux' when a real executable header lies anywhere in ``data``.

    Two bytes ``MZ`` turn up by chance in compressed data, so a Windows program is recognised by
    its DOS header pointing (``e_lfanew`` at +0x3C) to the ``PE\\0\\0`` signature; an ELF magic
    must be followed by a valid class, byte order and version.
    """
    start = data.find(b"MZ")
    while start != -1:
        if start + 0x40 <= len(data):
            e_lfanew = int.from_bytes(data[start + 0x3C : start + 0x40], "little")
            header = start + e_lfanew
            if e_lfanew >= 4 and data[header : header + 4] == b"PE\x00\x00":
                return "Windows"
        start = data.find(b"MZ", start + 1)
    start = data.find(b"\x7fELF")
    while start != -1:
        ident = data[start + 4 : start + 7]
        if len(ident) == 3 and ident[0] in (1, 2) and ident[1] in (1, 2) and ident[2] == 1:
            return "Linux"
        start = data.find(b"\x7fELF", start + 1)
    return None


def _refuse(message: str, code: str, **params) -> ValidationError:
    return ValidationError(message % params, code=code)


def _invalid(name: str, content_type: str) -> ValidationError:
    return _refuse(
        _(
            "Le fichier « %(name)s » n'est pas un fichier %(format)s valide : il ne peut pas "
            "être lu entièrement (fichier abîmé, tronqué ou déguisé). Il est refusé."
        ),
        "invalid_content",
        name=name,
        format=FORMAT_LABEL[content_type],
    )


# --- PDF -------------------------------------------------------------------------------------


def _outside_streams(data: bytes) -> bytes:
    """The PDF's bytes without its stream bodies (one linear pass, whatever the input)."""
    parts = []
    position = 0
    while True:
        start = data.find(b"stream", position)
        if start == -1:
            parts.append(data[position:])
            break
        if data[start - 3 : start] == b"end":
            parts.append(data[position : start + 6])
            position = start + 6
            continue
        parts.append(data[position:start])
        end = data.find(b"endstream", start + 6)
        if end == -1:
            break
        position = end + 9
    return b"".join(parts)


def _pdf_danger(obj) -> str | None:
    """'script', 'launch' or 'embedded' when this object (not following references) is active.

    Walks the direct dictionaries and arrays nested in ``obj``; indirect objects are inspected
    on their own by the caller, so shared or cyclic references are visited once.
    """
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            continue
        if isinstance(item, DictionaryObject):  # StreamObject is one too (its dictionary)
            keys = {str(key) for key in item}
            if keys & _PDF_SCRIPT_KEYS:
                return "script"
            if keys & _PDF_EMBEDDED_KEYS:
                return "embedded"
            if "/Launch" in keys:
                return "launch"
            action = item.get("/S")
            if not isinstance(action, IndirectObject) and action is not None:
                action = str(action)
                if action in _PDF_SCRIPT_ACTIONS:
                    return "script"
                if action in _PDF_LAUNCH_ACTIONS:
                    return "launch"
                if action in _PDF_EMBEDDED_ACTIONS:
                    return "embedded"
            for kind in ("/Subtype", "/Type"):
                value = item.get(kind)
                if not isinstance(value, IndirectObject) and str(value) in _PDF_EMBEDDED_SUBTYPES:
                    return "embedded"
            stack.extend(item.values())
        elif isinstance(item, ArrayObject):
            stack.extend(item)
    return None


def _check_pdf(data: bytes, name: str) -> bytes:
    """Refuse a PDF that does not parse or that carries active content; return its bytes."""
    from pypdf import PasswordType, PdfReader
    from pypdf.generic import IndirectObject

    end = data.rfind(b"%%EOF")
    if end == -1:
        raise _invalid(name, PDF)
    if data[end + 5 :].strip(_PDF_TRAILING_OK):
        raise _refuse(
            _(
                "Le fichier « %(name)s » contient des données cachées après la fin du PDF : "
                "il est refusé."
            ),
            "pdf_trailing_data",
            name=name,
        )
    if _HTML_MARKUP.search(_outside_streams(data)):
        raise _refuse(
            _("Le fichier « %(name)s » contient du code HTML caché dans le PDF : il est refusé."),
            "pdf_html",
            name=name,
        )
    danger = None
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise _refuse(
                _(
                    "Le fichier « %(name)s » est un PDF protégé par un mot de passe : il ne peut "
                    "pas être vérifié, il est refusé. Envoyez une version sans mot de passe."
                ),
                "pdf_encrypted",
                name=name,
            )
        if "/Root" not in reader.trailer or len(reader.pages) < 1:
            raise _invalid(name, PDF)
        danger = _pdf_danger(reader.trailer)
        # Every object the cross-reference tables list, referenced from the pages or not.
        numbers = [
            (number, generation)
            for generation, entries in reader.xref.items()
            for number in entries
        ]
        numbers += [(number, 0) for number in reader.xref_objStm]
        if len(numbers) > MAX_PDF_OBJECTS:
            raise _refuse(
                _(
                    "Le fichier « %(name)s » est un PDF trop complexe pour être vérifié (plus de "
                    "%(max)s objets) : il est refusé."
                ),
                "pdf_too_complex",
                name=name,
                max=f"{MAX_PDF_OBJECTS:,}".replace(",", "\u202f"),
            )
        for number, generation in numbers:
            if danger:
                break
            danger = _pdf_danger(reader.get_object(IndirectObject(number, generation, reader)))
    except ValidationError:
        raise
    except Exception:  # noqa: BLE001 - any failure of the parser on these bytes means "not a PDF"
        logger.info("PDF %r refused by the parser", name, exc_info=True)
        raise _invalid(name, PDF) from None
    if danger == "script":
        raise _refuse(
            _(
                "Le fichier « %(name)s » est un PDF qui contient du code (JavaScript ou "
                "formulaire dynamique) : il est refusé. Imprimez-le au format PDF (« Imprimer », "
                "puis « Enregistrer au format PDF ») et envoyez cette copie."
            ),
            "pdf_javascript",
            name=name,
        )
    if danger == "launch":
        raise _refuse(
            _(
                "Le fichier « %(name)s » est un PDF qui peut lancer un programme ou importer des "
                "données : il est refusé."
            ),
            "pdf_launch",
            name=name,
        )
    if danger == "embedded":
        raise _refuse(
            _(
                "Le fichier « %(name)s » est un PDF qui contient d'autres fichiers (fichiers "
                "incorporés) : il est refusé. Envoyez chaque document séparément."
            ),
            "pdf_embedded_file",
            name=name,
        )
    return data


# --- images ----------------------------------------------------------------------------------


def _too_many_pixels(name: str) -> ValidationError:
    return _refuse(
        _(
            "L'image « %(name)s » dépasse %(max)s millions de pixels : elle est refusée. "
            "Réduisez sa définition avant de l'envoyer."
        ),
        "image_too_large",
        name=name,
        max=max_pixels() // 1_000_000,
    )


def _reencode_image(data: bytes, content_type: str, name: str) -> bytes:
    """Decode the whole image and encode it again, without metadata nor trailing bytes."""
    from PIL import Image, ImageOps

    fmt = "JPEG" if content_type == JPEG else "PNG"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=[fmt])
            width, height = image.size
            if width * height > max_pixels():
                raise _too_many_pixels(name)
            image.load()
        transparency = image.info.get("transparency")
        ImageOps.exif_transpose(image, in_place=True)
        image.info = {}  # EXIF, GPS, XMP, comments, ICC profile, text chunks: never stored
        options: dict = {}
        if fmt == "JPEG":
            if image.format == "JPEG" and image.mode in ("L", "RGB", "CMYK"):
                # The original quantization tables: same quality, about the same size.
                options = {"quality": "keep"}
            else:
                image = image.convert("RGB")
                options = {"quality": 90}
        else:
            if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
                image = image.convert("RGBA")
            if transparency is not None and image.mode in ("P", "L", "RGB"):
                options["transparency"] = transparency
        out = io.BytesIO()
        image.save(out, format=fmt, **options)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(name) from None
    except Exception:  # noqa: BLE001 - any decoding failure means "not a valid image"
        logger.info("Image %r refused by the decoder", name, exc_info=True)
        raise _invalid(name, content_type) from None
    return out.getvalue()


# --- entry points ----------------------------------------------------------------------------


def check_upload(upload) -> CheckedFile:
    """Validate one uploaded file; raise ValidationError with a precise French message.

    Returns the bytes to store in ``CheckedFile.content``.
    """
    name = clean_name(getattr(upload, "name", ""))
    size = upload.size
    if size == 0:
        raise ValidationError(
            _("Le fichier « %(name)s » est vide.") % {"name": name}, code="empty_file"
        )
    data = _read_all(upload, max_bytes()) if size <= max_bytes() else b""
    size = max(size, len(data))
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
    if _starts_as_program(data):
        raise ValidationError(
            _(
                "Le fichier « %(name)s » est un programme, pas un document : il est refusé. "
                "Seuls les fichiers PDF, JPEG et PNG sont acceptés."
            )
            % {"name": name},
            code="executable",
        )
    content_type = sniff(data)
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
    system = hidden_executable(data)
    if system:
        raise _refuse(
            _(
                "Le fichier « %(name)s » contient un programme %(system)s caché : il est "
                "refusé. Seuls les documents PDF, JPEG et PNG sont acceptés."
            ),
            "executable",
            name=name,
            system=system,
        )
    if content_type == PDF:
        content = _check_pdf(data, name)
    else:
        content = _reencode_image(data, content_type, name)
    if ext not in EXTENSIONS[content_type]:
        # Keep the real type visible in the name the agent downloads.
        stem = os.path.splitext(name)[0] or "document"
        name = f"{stem[:190]}{PREFERRED_EXTENSION[content_type]}"
    return CheckedFile(
        name=name,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )


def check_uploads(uploads, already: int = 0) -> list[CheckedFile]:
    """Validate a message's files: count first, then each file. All errors are collected.

    Nothing is stored here; callers store the returned ``content`` only when every file passed.
    """
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
