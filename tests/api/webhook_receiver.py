"""A webhook receiver for the tests, run as its own process on loopback.

Verifies each request with the documented Standard Webhooks algorithm (written here from the
documentation, not imported from the project), appends one JSON line per request to the log
file, and answers the statuses of its plan in turn (the last one repeats). Usage:
``python webhook_receiver.py SECRET LOG PLAN`` where PLAN is e.g. ``503,200`` or ``429:120``
(status, then a Retry-After value). Prints the port it listens on."""

import base64
import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET, LOG, PLAN = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
lock = threading.Lock()
served = 0


def expected_signature(webhook_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        global served
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        webhook_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        given = self.headers.get("webhook-signature", "").split()
        valid = any(
            hmac.compare_digest(signature, expected_signature(webhook_id, timestamp, body))
            for signature in given
        )
        with lock:
            step = PLAN[min(served, len(PLAN) - 1)]
            served += 1
            status, _, retry_after = step.partition(":")
            with open(LOG, "a") as log:
                record = {
                    "id": webhook_id,
                    "valid": valid,
                    "path": self.path,
                    "answered": int(status),
                    "body": json.loads(body or b"null"),
                }
                log.write(json.dumps(record) + "\n")
        self.send_response(int(status) if valid else 401)
        if retry_after:
            self.send_header("Retry-After", retry_after)
        if status.startswith("3"):
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
