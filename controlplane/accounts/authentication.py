"""DRF authentication with the accounts app's API tokens (`Authorization: Token <key>`).

It is first in REST_FRAMEWORK's authentication classes so that a request without
credentials gets 401 with `WWW-Authenticate: Token` (DRF answers 403 when the first class
has no challenge to offer).
"""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from .keys import key_matches, key_prefix
from .models import ApiToken

# last_used is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_authenticate(*, key: str) -> ApiToken:
    """The active token for `key` (with its user), or AuthenticationFailed saying why not."""
    prefix = key_prefix(key)
    token = None
    if prefix is not None:
        token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not key_matches(key, token.key_digest):
        raise exceptions.AuthenticationFailed("Invalid token.")
    if token.revoked is not None:
        raise exceptions.AuthenticationFailed("This token was revoked.")
    now = timezone.now()
    if token.expires <= now:
        raise exceptions.AuthenticationFailed("This token has expired.")
    if not token.user.is_active:
        raise exceptions.AuthenticationFailed("User inactive or deleted.")
    if token.last_used is None or now - token.last_used >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        token.last_used = now
    return token


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: Token <key>.")
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = api_token_authenticate(key=key)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Describes the token scheme in the OpenAPI schema (registered by being defined)."""

    target_class = ApiTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=ApiTokenAuthentication.keyword
        )
