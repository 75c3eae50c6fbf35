"""Settings for ``bench/chat_load.py --layer pubsub``: the production settings, with
channels_redis' Pub/Sub channel layer instead of the list-based one (one PUBLISH per group
message, pushed to subscribers; no per-message blocking pop). Only the benchmark uses it."""

from contactcenter.settings import *  # noqa: F403
from contactcenter.settings import REDIS_URL, env_str

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_LAYER_PREFIX", "asgi")},
    }
}
