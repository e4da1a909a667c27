"""Real X.509 certificates and keys for kubeconfig tests (kubeconfigs are checked to hold
readable PEM, so placeholders no longer pass)."""

import base64
import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@functools.cache
def _key_and_certificate() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def certificate_b64(*, der: bool = False) -> str:
    """A self-signed certificate, base64-encoded as kubeconfig *-data fields hold it."""
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    return base64.b64encode(_key_and_certificate()[1].public_bytes(encoding)).decode()


def private_key_b64() -> str:
    """The certificate's key as unencrypted PKCS#8 PEM, base64-encoded."""
    pem = _key_and_certificate()[0].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(pem).decode()
