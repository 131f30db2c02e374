"""The Daraja simulator's key pair, standing for Safaricom's: a self-signed certificate that
`tuma daraja credential --local` encrypts the initiator's password with, and the private key its
Transaction Status decrypts with (as Daraja does with Safaricom's)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CredentialKey:
    private_key: rsa.RSAPrivateKey
    certificate_pem: bytes

    @classmethod
    def generate(cls) -> CredentialKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "apicrypt.daraja-simulator.local")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate.public_bytes(serialization.Encoding.PEM))

    def decrypts(self, credential: Any, password: str) -> bool:
        """Whether `credential` is `password` encrypted with this key's certificate."""
        if not isinstance(credential, str):
            return False
        try:
            plain = self.private_key.decrypt(base64.b64decode(credential, validate=True), padding.PKCS1v15())
        except (ValueError, binascii.Error):
            return False
        return plain == password.encode()
