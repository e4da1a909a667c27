"""Writes about people, all audited: role grants, users, API tokens, logins.

Import them from here; the modules split them by subject only.
"""

from .grants import role_grant_delete, role_grant_set
from .group_mappings import group_mapping_create, group_mapping_delete
from .logins import (
    login_failure_record,
    login_refusal_record,
    sso_failure_record,
    sso_refusal_record,
)
from .sso import sso_grants_sync, sso_login
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
    "group_mapping_create",
    "group_mapping_delete",
    "login_failure_record",
    "login_refusal_record",
    "role_grant_delete",
    "role_grant_set",
    "sso_failure_record",
    "sso_grants_sync",
    "sso_login",
    "sso_refusal_record",
    "user_create",
    "user_deactivate",
    "user_password_link_issue",
    "user_password_set",
    "user_reactivate",
]
