"""Service-account keys and OAuth2 access tokens, as Google's token endpoint issues them.

A key is an RSA pair; the endpoint keeps only its public half (and the key id), and hands out
a service-account JSON key file whose `token_uri` points back at it. google-auth's
service_account.Credentials then either trades a signed JWT for an access token at `/token`
(the JWT-bearer grant) or, as the Cloud client libraries do, sends a self-signed JWT straight
to the API. Both are checked here: RS256 over the key the JWT's `kid` names, issuer equal to
the key's account, and an expiry in the future.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# A JWT may be issued at most this far in the future, and live at most an hour (as Google).
CLOCK_SKEW_SECONDS = 300
MAX_ASSERTION_SECONDS = 3600
# google-auth addresses every grant assertion to Google's token endpoint, whatever token_uri
# the key names; a grant is accepted for that audience or for this endpoint's own address.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL


class AuthError(Exception):
    """A credential the endpoint does not accept; `error` and `description` as Google words
    them at the token endpoint."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class ServiceAccountKey:
    key_id: str
    client_email: str
    project_id: str
    public_pem: str
    revoked: bool = False

    def to_dict(self) -> dict:
        return {
            "key_id": self.key_id,
            "client_email": self.client_email,
            "project_id": self.project_id,
            "public_pem": self.public_pem,
            "revoked": self.revoked,
        }


@dataclass
class AccessToken:
    token: str
    client_email: str
    key_id: str
    expires_at: float


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class TokenService:
    def __init__(self, *, token_seconds: float = 3600.0) -> None:
        self.token_seconds = token_seconds
        self.keys: dict[str, ServiceAccountKey] = {}
        self.tokens: dict[str, AccessToken] = {}

    # ---- keys ----

    def make_key(self, *, project_id: str, account: str, token_uri: str) -> dict:
        """A new key registered here; returns the service-account JSON key file's content."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = (
            private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        key_id = secrets.token_hex(20)
        client_email = f"{account}@{project_id}.iam.gserviceaccount.com"
        self.keys[key_id] = ServiceAccountKey(key_id, client_email, project_id, public_pem)
        return {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": key_id,
            "private_key": private_pem,
            "client_email": client_email,
            "client_id": str(int(key_id[:15], 16)),
            "auth_uri": token_uri.rsplit("/", 1)[0] + "/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "",
            "client_x509_cert_url": "",
            "universe_domain": "googleapis.com",
        }

    def revoke_key(self, key_id: str) -> bool:
        key = self.keys.get(key_id)
        if key is None:
            return False
        key.revoked = True
        return True

    # ---- JWTs ----

    def verify_jwt(self, assertion: str, *, audience: str | None = None) -> tuple[dict, str]:
        """(claims, key id) of a JWT signed by a registered, unrevoked key."""
        parts = assertion.split(".")
        if len(parts) != 3:
            raise AuthError("invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, TypeError) as exc:
            raise AuthError("invalid_grant", "Invalid JWT: malformed token.") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise AuthError("invalid_grant", "Invalid JWT: malformed token.")
        if header.get("alg") != "RS256":
            raise AuthError("invalid_grant", "Invalid JWT: unsupported algorithm.")
        key = self.keys.get(str(header.get("kid", "")))
        if key is None or key.revoked:
            raise AuthError("invalid_grant", "Invalid JWT Signature.")
        public = serialization.load_pem_public_key(key.public_pem.encode())
        try:
            public.verify(  # type: ignore[union-attr]
                signature,
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature as exc:
            raise AuthError("invalid_grant", "Invalid JWT Signature.") from exc
        if claims.get("iss") != key.client_email:
            raise AuthError("invalid_grant", "Invalid JWT: issuer does not match the key.")
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)):
            raise AuthError("invalid_grant", "Invalid JWT: iat and exp are required.")
        if exp < now or iat > now + CLOCK_SKEW_SECONDS or exp - iat > MAX_ASSERTION_SECONDS:
            raise AuthError(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        if audience is not None and claims.get("aud") not in (audience, GOOGLE_TOKEN_AUDIENCE):
            raise AuthError("invalid_grant", "Invalid JWT: audience does not match.")
        return claims, key.key_id

    # ---- access tokens ----

    def grant(self, *, grant_type: str, assertion: str, audience: str) -> dict:
        """The token endpoint's answer to a JWT-bearer grant."""
        if grant_type != JWT_BEARER:
            raise AuthError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        if not assertion:
            raise AuthError("invalid_request", "Missing required parameter: assertion")
        claims, key_id = self.verify_jwt(assertion, audience=audience)
        token = "ya29.sandbox-" + secrets.token_urlsafe(32)
        expires_in = int(self.token_seconds)
        self.tokens[token] = AccessToken(token, claims["iss"], key_id, time.time() + expires_in)
        self._forget_expired()
        return {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}

    def _forget_expired(self) -> None:
        now = time.time()
        for token in [t for t, a in self.tokens.items() if a.expires_at < now]:
            del self.tokens[token]

    def principal(self, bearer: str | None) -> str | None:
        """The account an API request acts as: an unexpired access token from /token, or a
        self-signed JWT as the Cloud client libraries send; None when neither is valid."""
        if not bearer:
            return None
        issued = self.tokens.get(bearer)
        if issued is not None:
            return issued.client_email if issued.expires_at > time.time() else None
        if bearer.count(".") == 2:
            try:
                claims, _ = self.verify_jwt(bearer)
            except AuthError:
                return None
            return claims["iss"]
        return None

    def access_token_valid(self, bearer: str | None) -> bool:
        """Only OAuth access tokens open a cluster's Kubernetes API (as on GKE)."""
        issued = self.tokens.get(bearer or "")
        return issued is not None and issued.expires_at > time.time()

    # ---- persistence ----

    def to_dict(self) -> dict:
        return {"keys": [k.to_dict() for k in self.keys.values()]}

    def load(self, data: dict) -> None:
        for item in data.get("keys", []):
            key = ServiceAccountKey(**item)
            self.keys[key.key_id] = key
