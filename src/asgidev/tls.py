"""TLS for development: load a certificate, or create a local one for localhost once.

The generated certificate is cached in the user's cache directory (key file
mode 0600) and reused until it nears expiry; ``cryptography`` (the ``https``
extra) creates it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from pathlib import Path

from asgidev.config import Config
from asgidev.errors import ConfigError

CERT_NAME = "localhost-cert.pem"
KEY_NAME = "localhost-key.pem"
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
    """The cached localhost certificate and key, created on first use.

    Raises:
        ConfigError: ``cryptography`` is not installed.
    """
    directory = cache_dir()
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    if cert_path.exists() and key_path.exists() and not _needs_renewal(cert_path):
        return cert_path, key_path
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        raise ConfigError("--https needs the 'cryptography' package.", "pip install 'asgidev[https]'") from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asgidev development certificate (localhost)")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_VALID_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("*.localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    os.chmod(key_path, 0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


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
    return (
        f"HTTPS with the development certificate {cert_path} (for localhost, 127.0.0.1, ::1). "
        f"To trust it, import it into your browser, or on Debian/Ubuntu: "
        f"sudo cp {cert_path} /usr/local/share/ca-certificates/asgidev.crt && sudo update-ca-certificates"
    )
