"""Schemathesis hooks of bin/api-contract (loaded through SCHEMATHESIS_HOOKS).

- Unsafe methods need Django's CSRF cookie next to the X-CSRFToken header; the session cookie
  itself is the schema's ``cookieAuth`` (set in the config file), so that schemathesis can
  also send requests without it and check they are refused.
- Files generated for upload fields are random bytes, which the API rightly refuses (only PDF,
  JPEG and PNG, checked by content: a rule a schema cannot state). Generated files are
  replaced by a one-page PDF, so that valid requests are valid for the API too.
"""

import io
import os

import schemathesis
from pypdf import PdfWriter

CSRF_TOKEN = os.environ["API_CONTRACT_CSRF"]


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = _pdf()


@schemathesis.hook
def map_body(context, body):
    if isinstance(body, dict):
        for name in ("file", "files"):
            value = body.get(name)
            if isinstance(value, bytes | bytearray) and value:
                body[name] = PDF
            elif (
                isinstance(value, list)
                and value
                and all(isinstance(item, bytes | bytearray) and item for item in value)
            ):
                body[name] = [PDF for _ in value]
    return body


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() not in ("GET", "HEAD", "OPTIONS"):
        case.cookies = {**(case.cookies or {}), "csrftoken": CSRF_TOKEN}
