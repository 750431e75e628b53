"""Keys and certificates of the Azure DevOps simulator, built with ``cryptography`` at start.

- A throwaway certificate authority and a server certificate for ``127.0.0.1`` / ``localhost`` (TLS for the Entra
  endpoints, which msal only accepts over https). The CA certificate is written to a PEM file; clients trust it with
  ``verify=<that path>``.
- An RSA key that signs every JWT the simulated Entra issues (RS256, published as a JWK at the tenant's ``jwks_uri``).
- Helpers to sign and verify RS256 JWTs and to verify client assertions (RS256 or PS256) against a registered
  certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import ssl
import tempfile
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "JWTError",
    "SigningKey",
    "TLSMaterial",
    "b64url",
    "b64url_decode",
    "decode_unverified",
    "make_tls_material",
    "verify_client_assertion",
]


class JWTError(ValueError):
    """A JWT that is malformed or whose signature does not verify."""


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS, without checking anything."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JWTError("not a compact JWS")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWTError(f"malformed JWT: {exc}") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JWTError("malformed JWT: header and payload must be JSON objects")
    return header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


class SigningKey:
    """The RSA key behind every token the simulated Entra signs (``kid`` derived from the public key)."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self._key.public_key().public_numbers()
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = b64url(hashlib.sha1(der).digest())
        self._n = numbers.n
        self._e = numbers.e

    def jwk(self) -> dict[str, Any]:
        """The public key as Entra publishes it in ``/discovery/v2.0/keys``."""
        n = self._n.to_bytes((self._n.bit_length() + 7) // 8, "big")
        e = self._e.to_bytes((self._e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": b64url(n), "e": b64url(e)}

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid}
        head = b64url(json.dumps(header, separators=(",", ":")).encode())
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = self._key.sign(f"{head}.{body}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{b64url(signature)}"

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this key signed; raises :class:`JWTError` otherwise (no time checks)."""
        header, claims, signing_input, signature = decode_unverified(token)
        if header.get("alg") != "RS256" or header.get("kid") != self.kid:
            raise JWTError("unknown signing key or algorithm")
        try:
            self._key.public_key().verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise JWTError("signature does not verify") from exc
        return claims


def verify_client_assertion(token: str, certificate_pem: bytes) -> dict[str, Any]:
    """The claims of a client assertion signed by the certificate's key (RS256 or PS256, as msal signs them).

    Microsoft's "certificate credentials" page: the assertion is a JWT whose header names the certificate by
    ``x5t`` (SHA-1 thumbprint) or ``x5t#S256``; the caller checks ``aud``/``iss``/``sub``/``exp``/``jti``."""
    header, claims, signing_input, signature = decode_unverified(token)
    cert = x509.load_pem_x509_certificate(certificate_pem)
    thumbs = {
        "x5t": b64url(cert.fingerprint(hashes.SHA1())),
        "x5t#S256": b64url(cert.fingerprint(hashes.SHA256())),
    }
    # msal base64url-encodes the thumbprint with its "=" padding; compare without it.
    if not any(str(header.get(name, "")).rstrip("=") == value for name, value in thumbs.items()):
        raise JWTError("the assertion names no registered certificate (x5t / x5t#S256)")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise JWTError("only RSA certificates are supported")
    alg = header.get("alg")
    try:
        if alg == "RS256":
            public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "PS256":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            public_key.verify(signature, signing_input, pss, hashes.SHA256())
        else:
            raise JWTError(f"unsupported assertion algorithm {alg!r}")
    except InvalidSignature as exc:
        raise JWTError("client assertion signature does not verify") from exc
    return claims


@dataclass
class TLSMaterial:
    """A CA certificate file (``ca_path``) and an ``ssl.SSLContext`` serving a certificate it signed."""

    ca_path: str
    context: ssl.SSLContext
    _tmpdir: str

    def cleanup(self) -> None:
        for name in os.listdir(self._tmpdir):
            try:
                os.unlink(os.path.join(self._tmpdir, name))
            except OSError:
                pass
        try:
            os.rmdir(self._tmpdir)
        except OSError:
            pass


def make_tls_material(hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TLSMaterial:
    """Generate a CA and a server certificate for ``hosts`` (IP addresses or DNS names), valid one day."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Feedkeeper Azure DevOps simulator CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    tmpdir = tempfile.mkdtemp(prefix="azure-devops-sim-")
    ca_path = os.path.join(tmpdir, "ca.pem")
    cert_path = os.path.join(tmpdir, "server.pem")
    key_path = os.path.join(tmpdir, "server-key.pem")
    with open(ca_path, "wb") as fh:
        fh.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    os.unlink(key_path)  # loaded; only the CA (and the public server certificate) stay on disk until stop
    return TLSMaterial(ca_path=ca_path, context=context, _tmpdir=tmpdir)
