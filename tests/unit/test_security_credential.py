"""The initiator's Security Credential: encrypted with the certificate of the Daraja it is for, and
one the Daraja simulator's private key opens (RSA, PKCS#1 v1.5, base64)."""

from __future__ import annotations

import base64
import hashlib
from importlib import resources

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tuma_cli.daraja_sandbox.keys import CredentialKey
from tuma_cli.security_credential import certificate_for, encrypt_credential

# As the certificates' README says: what Safaricom's portal serves, byte for byte.
SHIPPED = {
    "SandboxCertificate.cer": (
        "apicrypt.safaricom.co.ke",
        "9086f32587b3a4302ca824799557e5a6afd7be3b3637b4006b93dd7f920047a3",
    ),
    "ProductionCertificate.cer": (
        "apigee.apicaller.safaricom.co.ke",
        "5e611f510e567eda0915a5feec7c9105b326871a1d7ef7d8c494ad7f0eca35f8",
    ),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_the_shipped_certificates_are_safaricoms_with_2048_bit_keys(name: str) -> None:
    data = resources.files("tuma_cli.daraja_certs").joinpath(name).read_bytes()
    common_name, digest = SHIPPED[name]
    assert hashlib.sha256(data).hexdigest() == digest
    certificate = x509.load_pem_x509_certificate(data)
    assert certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == common_name
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048


def test_the_certificate_follows_the_base_url() -> None:
    assert certificate_for("https://sandbox.safaricom.co.ke")[0] == "SandboxCertificate.cer"
    assert certificate_for("https://api.safaricom.co.ke")[0] == "ProductionCertificate.cer"


def test_a_credential_is_a_fresh_ciphertext_each_time_that_only_the_matching_key_opens() -> None:
    ours, other = CredentialKey.generate(), CredentialKey.generate()
    first = encrypt_credential("Initiator-Pass-1!", ours.certificate_pem)
    second = encrypt_credential("Initiator-Pass-1!", ours.certificate_pem)
    assert first != second and len(base64.b64decode(first)) == 256 and len(first) == 344
    assert ours.decrypts(first, "Initiator-Pass-1!") and ours.decrypts(second, "Initiator-Pass-1!")
    assert not ours.decrypts(first, "another password")
    assert not other.decrypts(first, "Initiator-Pass-1!")
    assert not ours.decrypts("Initiator-Pass-1!", "Initiator-Pass-1!")  # pasted as the portal gave it
    assert not ours.decrypts(None, "Initiator-Pass-1!")
