"""Signals other parts subscribe to when someone's access ends (sent after commit).

The live side closes the websockets of a deactivated user when `user_deactivated` fires;
anything holding a token-authenticated connection drops it on `api_token_revoked`.
Receivers get plain ids, never model instances, so they can run in any process state.
"""

from django.dispatch import Signal

# kwargs: user_id (int), username (str). Sent after the deactivation is committed; the
# user's sessions are already deleted and their API tokens revoked by then.
user_deactivated = Signal()

# kwargs: token_id (int), user_id (int). Sent after the revocation is committed.
api_token_revoked = Signal()
