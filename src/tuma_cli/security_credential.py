"""The initiator's Security Credential: its password encrypted with Safaricom's public certificate
(RSA, PKCS#1 v1.5, base64), as Daraja's Transaction Status requires.

Done here, on the operator's machine (`tuma daraja credential`), so that the Lambda functions need
no crypto library. The certificates ship in `tuma_cli/daraja_certs` (their README says where from).
"""

from __future__ import annotations

import base64
from importlib import resources

SANDBOX_HOST = "sandbox.safaricom.co.ke"


def certificate_for(base_url: str) -> tuple[str, bytes]:
    """The certificate Daraja at `base_url` decrypts with: the sandbox's for its sandbox host,
    production's otherwise. (name, PEM)."""
    name = "SandboxCertificate.cer" if SANDBOX_HOST in base_url else "ProductionCertificate.cer"
    return name, resources.files("tuma_cli.daraja_certs").joinpath(name).read_bytes()


def encrypt_credential(password: str, certificate_pem: bytes) -> str:
    """The password, encrypted with the certificate's public key (a fresh padding every time)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:  # pragma: no cover - the daraja extra is missing
        raise SystemExit(
            'tuma daraja credential needs the cryptography package: pip install "tuma[daraja]"'
        ) from None
    key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the certificate's key is not RSA")
    return base64.b64encode(key.encrypt(password.encode(), padding.PKCS1v15())).decode()
