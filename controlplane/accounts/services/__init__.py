"""Writes about people, all audited: role grants, users, API tokens, logins.

Import them from here; the modules split them by subject only.
"""

from .grants import role_grant_delete, role_grant_set
from .logins import login_failure_record, login_refusal_record
from .tokens import (
    IssuedToken,
    api_token_create,
    api_token_days_max,
    api_token_revoke,
    api_tokens_revoke_all,
)
from .users import (
    UserCreated,
    user_create,
    user_deactivate,
    user_password_link_issue,
    user_password_set,
    user_reactivate,
)

__all__ = [
    "IssuedToken",
    "UserCreated",
    "api_token_create",
    "api_token_days_max",
    "api_token_revoke",
    "api_tokens_revoke_all",
    "login_failure_record",
    "login_refusal_record",
    "role_grant_delete",
    "role_grant_set",
    "user_create",
    "user_deactivate",
    "user_password_link_issue",
    "user_password_set",
    "user_reactivate",
]
