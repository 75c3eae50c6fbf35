"""Co-browsing limits, read at call time so that tests can override them with settings.

Every value can be set in settings (``COBROWSE_<NAME>``); the defaults are the product's rules.
"""

from datetime import timedelta

from django.conf import settings

DEFAULTS = {
    # A code or an invitation waits this long for its next step, then expires.
    "CODE_TTL": timedelta(minutes=10),
    "OFFER_TTL": timedelta(minutes=10),
    # Wrong codes: after MAX_CODE_FAILURES the agent is locked out for LOCKOUT.
    "MAX_CODE_FAILURES": 5,
    "LOCKOUT": timedelta(minutes=15),
    # A session ends when one side has been gone this long (tab closed, network lost)...
    "PEER_GRACE": timedelta(seconds=30),
    # ...or when nothing happened on either side for this long.
    "INACTIVITY": timedelta(minutes=10),
    # How often a connected consumer checks its session for the two rules above.
    "WATCHDOG_SECONDS": 5.0,
    # A citizen socket that has not pinged for this long no longer counts as "online".
    "PRESENCE_TTL_SECONDS": 60,
    # Any websocket message above this size is refused (close 4413).
    "MAX_FRAME_BYTES": 1024 * 1024,
    # A snapshot sent in chunks may not exceed this once reassembled.
    "MAX_CHUNKED_BYTES": 8 * 1024 * 1024,
    "MAX_CHUNKS": 16,
    # Most events per rrweb message (the recorder batches them).
    "MAX_EVENTS_PER_FRAME": 1000,
    # Last activity is written at most this often (it is checked with minute precision).
    "ACTIVITY_WRITE_SECONDS": 15.0,
    # Distinct page paths remembered for the timeline record.
    "MAX_PAGES": 100,
    # Nodes of the shared page the server keeps track of (to mask text mutations under masked
    # elements); a page beyond it closes the citizen's socket (4413).
    "MAX_NODES": 50_000,
    # The only style sheets the agent's replay may load (static names, as in the templates'
    # {% static %} of base.html and of the citizen's pages). Any other URL of the page is dropped.
    "STYLESHEETS": (
        "vendor/dsfr/dsfr.min.css",
        "vendor/dsfr/utility/utility.min.css",
        "guichet/css/guichet.css",
        "cobrowse/css/cobrowse.css",
        "chat/css/chat.css",
        "knowledge/css/knowledge.css",
    ),
}


def get(name: str):
    return getattr(settings, f"COBROWSE_{name}", DEFAULTS[name])
