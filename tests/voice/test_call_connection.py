"""A call's thread gives its database connection back while it waits on the line (a prompt, a
key, an agent's phone, the bridged conversation): the voice server's pool has a few connections
for every call (docs/operations.md, "Database connections"). Never inside a transaction."""

from __future__ import annotations

import pytest
from django.db import transaction

from voice import server


@pytest.mark.django_db(transaction=True)
def test_the_call_thread_releases_its_connection_outside_transactions(monkeypatch):
    released: list[bool] = []
    monkeypatch.setattr(server, "close_old_connections", lambda: released.append(True))

    server.CallSession.release_connection()
    assert released == [True]

    with transaction.atomic():
        server.CallSession.release_connection()
    assert released == [True]
