"""The one helper through which everything reaches browsers over the channel layer.

Call it only after the database change it describes has committed (wrap the call in
`transaction.on_commit`), so a browser never sees a change that was rolled back.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

# Channel group names allow only ASCII alphanumerics, hyphens, underscores and periods.
_SAFE = str.maketrans(dict.fromkeys("/: ", "_"))


def group_name(*parts: str) -> str:
    return ".".join(str(part).translate(_SAFE) for part in parts)[:99]


def broadcast(*, group: str, message: dict) -> None:
    """Send `message` (a dict with a "type" naming the consumer handler) to a group."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("CHANNEL_LAYERS is not configured")
    async_to_sync(layer.group_send)(group, message)
