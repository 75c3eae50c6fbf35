"""An SMS backend for the Celery worker integration test (loaded by the worker via SMS_BACKEND).

Every successful send is appended to the file named by ``FLAKY_SMS_LOG``; the first attempt for a
notification whose key starts with ``FLAKY_SMS_FAIL_PREFIX`` raises, like a provider outage.
"""

import os
from pathlib import Path


class FlakySmsBackend:
    def send(self, to: str, text: str, idempotency_key: str) -> str:
        log = Path(os.environ["FLAKY_SMS_LOG"])
        prefix = os.environ.get("FLAKY_SMS_FAIL_PREFIX", "")
        marker = log.with_suffix(".failed-" + idempotency_key.replace(":", "_").replace("/", "_"))
        if prefix and idempotency_key.startswith(prefix) and not marker.exists():
            marker.write_text("failed once")
            raise ConnectionError("SMS provider unavailable (simulated)")
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"{idempotency_key}\t{to}\t{text}\n")
        return f"flaky-{idempotency_key}"
