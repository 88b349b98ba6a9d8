"""TLS for development: load a certificate, or create a local one for localhost once.

The generated certificate is cached in the user's cache directory (key file
mode 0600) and reused until it nears expiry; ``cryptography`` (the ``https``
extra) creates it. It is a leaf signed by a CA that may vouch only for
localhost names and whose key is discarded, so trusting that CA trusts
nothing else (see ``_issue_certificates``).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
from pathlib import Path
from typing import Any

from asgidev.config import Config
from asgidev.errors import ConfigError

logger = logging.getLogger(__name__)

CERT_NAME = "localhost-cert.pem"
KEY_NAME = "localhost-key.pem"
# The CA to trust (the served chain in CERT_NAME ends with it).
CA_NAME = "localhost-ca.pem"
# Short enough that browsers accept it (they refuse > 398 days), renewed when a month is left.
CERT_VALID_DAYS = 390
RENEW_BEFORE_DAYS = 30


def cache_dir() -> Path:
    """Where asgidev keeps its development certificate."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "asgidev"


def build_ssl_context(config: Config) -> ssl.SSLContext | None:
    """The server's SSLContext, or None for plain HTTP.

    Raises:
        ConfigError: the certificate or key cannot be loaded, or cryptography is missing for --https.
    """
    key: Path | None
    if config.https:
        cert, key = dev_certificate()
        password = None
    elif config.ssl_certfile:
        cert, key, password = (
            Path(config.ssl_certfile),
            Path(config.ssl_keyfile) if config.ssl_keyfile else None,
            config.ssl_keyfile_password,
        )
    else:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key, password)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"Cannot load the TLS certificate {cert}: {exc}.", "Check --ssl-certfile/--ssl-keyfile (PEM files).") from None
    return context


def dev_certificate() -> tuple[Path, Path]:
    """The cached localhost certificate (with its CA) and key, created on first use.

    Raises:
        ConfigError: ``cryptography`` is not installed.
    """
    directory = cache_dir()
    cert_path, key_path, ca_path = directory / CERT_NAME, directory / KEY_NAME, directory / CA_NAME
    if cert_path.exists() and key_path.exists() and not ca_path.exists():
        # Older versions made the certificate its own unconstrained CA (CA:TRUE, no name
        # constraints): with its key, anyone could sign a certificate for any site.
        logger.warning(
            "Replacing the old --https development certificate in %s: it could vouch for any site. "
            "If you trusted it, remove it from your trust store and trust %s instead.",
            directory,
            ca_path,
        )
    elif cert_path.exists() and key_path.exists() and not _needs_renewal(cert_path):
        return cert_path, key_path
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise ConfigError("--https needs the 'cryptography' package.", "pip install 'asgidev[https]'") from None
    ca, leaf, key = _issue_certificates()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    os.chmod(key_path, 0o600)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    # The served chain: the leaf, then the CA that signed it.
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca_pem)
    ca_path.write_bytes(ca_pem)
    return cert_path, key_path


def _issue_certificates() -> tuple[Any, Any, Any]:
    """A name-constrained CA, the localhost leaf it signs, and the leaf's key.

    Browsers and OpenSSL want a CA to trust and a separate leaf to serve. The
    CA may only vouch for the local names (RFC 5280 section 4.2.1.10 name
    constraints), and its key is never stored: it signs the leaf and is
    dropped, so no file on disk can sign anything else. The leaf is
    ``CA:FALSE`` and for server authentication only.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName("*.localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asgidev development CA (localhost only)")])
    leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    usage = {
        k: False for k in ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only")
    }
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **usage), critical=True)
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[
                    x509.DNSName("localhost"),  # also every name under it (RFC 5280: labels added on the left)
                    x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                    x509.IPAddress(ipaddress.ip_network("::1/128")),
                ],
                excluded_subtrees=None,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        _builder(leaf_name, ca_name, leaf_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **usage), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, leaf, leaf_key


def _builder(subject: Any, issuer: Any, public_key: Any, now: datetime.datetime) -> Any:
    from cryptography import x509

    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALID_DAYS))
    )


def _needs_renewal(cert_path: Path) -> bool:
    try:
        info = ssl._ssl._test_decode_cert(str(cert_path))  # type: ignore[attr-defined]
        expires = ssl.cert_time_to_seconds(info["notAfter"])
    except (OSError, ValueError, KeyError, AttributeError):
        return True
    remaining = expires - datetime.datetime.now(datetime.UTC).timestamp()
    return remaining < RENEW_BEFORE_DAYS * 86400


def trust_hint(cert_path: Path) -> str:
    """How to make browsers trust the development certificate."""
    ca_path = cert_path.with_name(CA_NAME)
    return (
        f"HTTPS with the development certificate {cert_path} (for localhost, 127.0.0.1, ::1). "
        f"To trust it, import its CA {ca_path} (it can vouch for local names only) into your browser, or on Debian/Ubuntu: "
        f"sudo cp {ca_path} /usr/local/share/ca-certificates/asgidev.crt && sudo update-ca-certificates"
    )
