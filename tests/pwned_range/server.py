"""A Pwned Passwords range server for the tests, in its own process on loopback.

    python tests/pwned_range/server.py REQUEST_LOG

It speaks the k-anonymity range API of "Have I Been Pwned" (``GET /range/<5 hex>``: every
SHA-1 suffix known under that prefix, ``SUFFIX:COUNT`` lines separated by CRLF; with the
``Add-Padding: true`` header, fake suffixes with a count of 0 bring the answer to 800-1,000
lines; a malformed prefix is a 400) over a real corpus: the 19,640 most common passwords of
leaked databases that Django ships (``django/contrib/auth/common-passwords.txt.gz``, in order
of frequency). The list has no counts: a password's count is its rank from the bottom (the
most common has the highest). Each request line and its ``Add-Padding`` header are appended to
REQUEST_LOG. Prints "listening <port>" once it serves.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import sys
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import django.contrib.auth

CORPUS = Path(django.contrib.auth.__file__).parent / "common-passwords.txt.gz"
PREFIX = re.compile(r"^/range/([0-9A-Fa-f]{5})$")


def load() -> dict[str, dict[str, int]]:
    """{prefix: {suffix: count}} of the corpus."""
    with gzip.open(CORPUS, "rt", encoding="utf-8") as corpus:
        passwords = [line.strip() for line in corpus if line.strip()]
    ranges: dict[str, dict[str, int]] = defaultdict(dict)
    for rank, password in enumerate(passwords):
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        ranges[digest[:5]][digest[5:]] = len(passwords) - rank
    return ranges


def serve(request_log: Path) -> None:
    ranges = load()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            padding = self.headers.get("Add-Padding", "")
            with request_log.open("a") as log:
                log.write(f"{self.path}\t{padding}\n")
            match = PREFIX.match(self.path)
            if not match:
                return self.answer(400, "The hash prefix was not in a valid format")
            known = ranges.get(match.group(1).upper(), {})
            lines = [f"{suffix}:{count}" for suffix, count in known.items()]
            if padding.lower() == "true":
                total = random.randint(800, 1000)
                while len(lines) < total:
                    lines.append(f"{random.getrandbits(140):035X}:0")
                random.shuffle(lines)
            return self.answer(200, "\r\n".join(lines))

        def answer(self, status: int, text: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {httpd.server_port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
