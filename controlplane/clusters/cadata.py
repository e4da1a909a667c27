"""A cluster's CA as the TLS layer needs it: base64 of PEM text.

Uploads are refused unless certificate-authority-data is PEM, but clusters stored before
that check may hold base64 DER (what `kubectl config view --raw` prints for a CA that was
given as a binary file). Migration 0004 rewrites those rows; `ca_pem_b64` converts at use
too, so a row the migration could not decrypt (an old CREDENTIALS_KEY added back later)
still connects.
"""

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .crypto import CredentialsUnreadable


class CaUnreadable(CredentialsUnreadable):
    """The stored CA is neither PEM nor a DER certificate."""


def _is_pem(raw: bytes) -> bool:
    return raw.lstrip().startswith(b"-----BEGIN ")


def ca_pem_b64(ca_data: str | None) -> str | None:
    """`ca_data` with a DER certificate turned into PEM; PEM (or nothing) as it is."""
    if not ca_data:
        return ca_data
    try:
        raw = base64.b64decode(ca_data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CaUnreadable(
            "the stored certificate-authority-data is not base64; upload the kubeconfig again"
        ) from exc
    if _is_pem(raw):
        return ca_data
    try:
        certificate = x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        raise CaUnreadable(
            "the stored certificate-authority-data is neither PEM nor a DER certificate; "
            "upload the kubeconfig again"
        ) from exc
    return base64.b64encode(certificate.public_bytes(Encoding.PEM)).decode()


def ca_is_der(ca_data: str | None) -> bool:
    """Whether stored CA data is a (readable) DER certificate that `ca_pem_b64` would convert."""
    if not ca_data:
        return False
    try:
        return not _is_pem(base64.b64decode(ca_data, validate=True)) and bool(
            x509.load_der_x509_certificate(base64.b64decode(ca_data))
        )
    except (binascii.Error, ValueError):
        return False
