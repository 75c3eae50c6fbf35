"""One Redis connection pool per server and options for the whole process, for Django's cache
(``CACHES["default"]["OPTIONS"]["pool_class"]``, a documented option of Django's RedisCache).

Django's cache handler builds one cache object per thread and per asyncio context, and each
``RedisCache`` its own pool. A websocket consumer is a context that lives as long as the socket:
the session it loads at connect (``cached_db``) and its connection lease went through a pool of
its own, so every open socket kept a Redis connection and its buffers (bench/RESULTS.md,
``chat_load.py``: memory per idle socket), and every HTTP request opened a new connection. With
this class the objects still differ per context but share the process's pool (redis-py's pools
are thread-safe and start afresh in a forked child).
"""

from __future__ import annotations

import threading
from typing import Any

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    shared: dict[tuple[str, tuple[tuple[str, str], ...]], ConnectionPool] = {}
    lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls.lock:
            pool = cls.shared.get(key)
            if pool is None:
                pool = cls.shared[key] = super().from_url(url, **kwargs)
        return pool
