"""Upload samples built at test time: valid documents and the disguises the checks must refuse.

Each function returns bytes; ``upload(name, content)`` wraps them as an uploaded file.
"""

from __future__ import annotations

import io
import struct
import zlib

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter
from pypdf.actions import JavaScript
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    TextStringObject,
)

HTML_WITH_SCRIPT = b"<html><body><script>fetch('/console/usagers/')</script></body></html>"


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


# --- executables -------------------------------------------------------------------------------


def windows_executable() -> bytes:
    """A minimal PE: DOS header whose e_lfanew (at 0x3C) points to 'PE\\0\\0' and a COFF header."""
    dos = bytearray(b"MZ" + b"\x90\x00" + b"\x00" * 0x3C)
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    dos += b"This program cannot be run in DOS mode.\r\n$".ljust(0x80 - len(dos), b"\x00")
    coff = b"PE\x00\x00" + struct.pack("<HHIIIHH", 0x8664, 1, 0, 0, 0, 0xF0, 0x22)
    return bytes(dos) + coff + b"\x00" * 256


def linux_executable() -> bytes:
    """The start of a 64-bit little-endian ELF executable."""
    ident = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8
    return ident + struct.pack("<HHI", 2, 0x3E, 1) + b"\x00" * 200


# --- PDF ---------------------------------------------------------------------------------------


def _written(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _writer_with_page() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


def valid_pdf() -> bytes:
    """A one-page A4 PDF written by pypdf."""
    return _written(_writer_with_page())


def pdf_with_javascript() -> bytes:
    """A PDF with document-level JavaScript (the /Names /JavaScript tree), added by pypdf."""
    writer = _writer_with_page()
    writer.add_open_action(JavaScript("app.alert('bonjour');"))
    return _written(writer)


def pdf_with_open_action_javascript() -> bytes:
    """A PDF that runs JavaScript when opened (/OpenAction << /S /JavaScript /JS … >>)."""
    writer = _writer_with_page()
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('bonjour');"),
        }
    )
    return _written(writer)


def pdf_with_launch_link() -> bytes:
    """A PDF whose page carries a link annotation that launches a program."""
    writer = _writer_with_page()
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([FloatObject(0), FloatObject(0)] * 2),
            NameObject("/A"): DictionaryObject(
                {
                    NameObject("/S"): NameObject("/Launch"),
                    NameObject("/F"): TextStringObject("C:\\Windows\\System32\\cmd.exe"),
                }
            ),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([annotation])
    return _written(writer)


def pdf_with_embedded_file() -> bytes:
    """A PDF carrying another file in its /EmbeddedFiles name tree."""
    writer = _writer_with_page()
    writer.add_attachment("programme.exe", b"not really a program, still refused")
    return _written(writer)


def raw_pdf(objects: list[bytes], gap: bytes = b"") -> bytes:
    """A classic-xref PDF of ``objects`` (object 1 is the catalog), offsets computed.

    ``gap`` goes between the header and the first object, where no reader looks.
    """
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + gap)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


PAGE_OBJECTS = [
    b"<< /Type /Catalog /Pages 2 0 R >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
]


def pdf_of_size(size: int) -> bytes:
    """A valid one-page PDF of exactly ``size`` bytes (padded with a comment gap)."""
    gap = 0
    for _attempt in range(5):
        data = raw_pdf(PAGE_OBJECTS, gap=b"%" + b"0" * gap + b"\n")
        if len(data) == size:
            return data
        gap += size - len(data)
    raise ValueError(size)


def pdf_with_unreferenced_javascript() -> bytes:
    """A PDF with a JavaScript action object that nothing references (still inspected)."""
    return raw_pdf([*PAGE_OBJECTS, b"<< /S /JavaScript /JS (app.alert(1)) >>"])


def pdf_with_page_open_action_in_a_stream() -> bytes:
    """A page whose additional action (/AA /O) runs JavaScript kept in a separate stream."""
    script = b"app.alert(1);"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /AA << /O 4 0 R >> >>",
            b"<< /S /JavaScript /JS 5 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(script) + script + b"\nendstream",
        ]
    )


def pdf_with_xfa_form() -> bytes:
    """A PDF carrying an XFA (dynamic) form, which can hold scripts of its own."""
    xfa = b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'><template/></xdp:xdp>"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [] /XFA 4 0 R >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            b"<< /Length %d >>\nstream\n" % len(xfa) + xfa + b"\nendstream",
        ]
    )


def pdf_without_pages() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def pdf_with_html_between_objects() -> bytes:
    """A PDF that parses but hides an HTML page between its objects (polyglot)."""
    return raw_pdf(PAGE_OBJECTS, gap=HTML_WITH_SCRIPT + b"\n")


def pdf_with_password() -> bytes:
    """A PDF that only opens with a password (nobody can inspect it without)."""
    writer = _writer_with_page()
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    return _written(writer)


def pdf_with_owner_password_only() -> bytes:
    """A PDF with an owner password only: it opens without one, so it is inspected."""
    writer = _writer_with_page()
    writer.encrypt(user_password="", owner_password="owner", algorithm="AES-128")
    return _written(writer)


def pdf_header_then(payload: bytes, version: bytes = b"1.7") -> bytes:
    """The disguise of the issue: a PDF header, anything, then a PDF end marker."""
    return b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n" + payload + b"\n%%EOF\n"


def valid_pdf_with_a_program_inside() -> bytes:
    """A PDF that parses (valid xref) but carries a Windows program between header and objects."""
    return raw_pdf(PAGE_OBJECTS, gap=windows_executable())


# --- images ------------------------------------------------------------------------------------


def _image(fmt: str, size=(32, 24), color=(200, 30, 30), **options) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt, **options)
    return out.getvalue()


def valid_jpeg(size=(32, 24)) -> bytes:
    return _image("JPEG", size)


def valid_png(size=(32, 24)) -> bytes:
    return _image("PNG", size)


def jpeg_with_gps() -> bytes:
    """A photo whose EXIF says where it was taken (and by which phone), rotated 90° by EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "Fabricant"  # Make
    exif[0x0110] = "Telephone 12"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 24.0)
    gps[3] = "E"
    gps[4] = (2.0, 21.0, 7.0)
    return _image("JPEG", (40, 20), exif=exif.tobytes())


def png_with_text_and_trailing_data() -> bytes:
    """A PNG with a text chunk and HTML appended after its IEND chunk."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "adresse: 12 rue des Lilas")
    return _image("PNG", pnginfo=info) + HTML_WITH_SCRIPT


def jpeg_markers_around_html() -> bytes:
    """HTML between JPEG start and end markers: looks like a JPEG to a head-and-tail check."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + (
        HTML_WITH_SCRIPT + b"\xff\xd9"
    )


def truncated_jpeg() -> bytes:
    """A real photo cut in the middle of its scan data (an interrupted transfer)."""
    noisy = Image.effect_noise((256, 256), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="JPEG", quality=95)
    data = out.getvalue()
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    """A PNG whose image data stops half way (IEND kept)."""
    noisy = Image.effect_noise((256, 256), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    data = out.getvalue()
    idat = data.index(b"IDAT") - 4
    length = struct.unpack(">I", data[idat : idat + 4])[0]
    cut = data[idat + 8 : idat + 8 + length // 2]
    chunk = struct.pack(">I", len(cut)) + b"IDAT" + cut
    chunk += struct.pack(">I", zlib.crc32(b"IDAT" + cut) & 0xFFFFFFFF)
    return data[:idat] + chunk + data[idat + 12 + length :]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body))
        + kind
        + body
        + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A tiny PNG announcing 400 million black pixels (1 bit each): a decompression bomb."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(256)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )


# (file name, bytes builder, refusal code) of every disguise the checks must refuse.
DISGUISES = {
    "pdf_header_windows_program": (
        "avis.pdf",
        lambda: pdf_header_then(windows_executable(), b"1.7"),
        "executable",
    ),
    "pdf_header_linux_program": (
        "avis.pdf",
        lambda: pdf_header_then(linux_executable(), b"1.4"),
        "executable",
    ),
    "pdf_header_html_script": ("avis.pdf", lambda: pdf_header_then(HTML_WITH_SCRIPT), "pdf_html"),
    "html_between_jpeg_markers": ("photo.jpg", jpeg_markers_around_html, "invalid_content"),
    "valid_pdf_carrying_a_program": ("acte.pdf", valid_pdf_with_a_program_inside, "executable"),
    "valid_pdf_hiding_html": ("acte.pdf", pdf_with_html_between_objects, "pdf_html"),
    "pdf_with_data_after_its_end": (
        "acte.pdf",
        lambda: valid_pdf() + b"PK\x03\x04 archive glued after the PDF",
        "pdf_trailing_data",
    ),
    "pdf_javascript_name_tree": ("formulaire.pdf", pdf_with_javascript, "pdf_javascript"),
    "pdf_open_action_javascript": (
        "formulaire.pdf",
        pdf_with_open_action_javascript,
        "pdf_javascript",
    ),
    "pdf_unreferenced_javascript": (
        "formulaire.pdf",
        pdf_with_unreferenced_javascript,
        "pdf_javascript",
    ),
    "pdf_page_action_javascript_in_a_stream": (
        "formulaire.pdf",
        pdf_with_page_open_action_in_a_stream,
        "pdf_javascript",
    ),
    "pdf_xfa_form": ("cerfa.pdf", pdf_with_xfa_form, "pdf_javascript"),
    "pdf_launch_action": ("lien.pdf", pdf_with_launch_link, "pdf_launch"),
    "pdf_embedded_file": ("dossier.pdf", pdf_with_embedded_file, "pdf_embedded_file"),
    "pdf_with_password": ("protege.pdf", pdf_with_password, "pdf_encrypted"),
    "pdf_without_pages": ("vide.pdf", pdf_without_pages, "invalid_content"),
    "truncated_png": ("scan.png", truncated_png, "invalid_content"),
    "png_decompression_bomb": ("plan.png", png_bomb, "image_too_large"),
}
