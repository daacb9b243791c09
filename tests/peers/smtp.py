"""A real SMTP server for the email tests: aiosmtpd with STARTTLS (self-signed cert) and AUTH required."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME, PASSWORD = "alerts@example.com", "smtp-pa55word-s3cret"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A cert for 127.0.0.1 and localhost (EC: generated in milliseconds)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    tls: bool
    login: str | None


@dataclass
class SmtpPeer:
    host: str
    port: int
    cafile: str
    username: str = USERNAME
    password: str = PASSWORD
    received: list[Received] = field(default_factory=list)
    refused_logins: int = 0

    def config(self, **extra) -> dict:
        return {"host": self.host, "port": self.port, "security": "starttls", "username": self.username,
                "from_addr": "loglytics@example.com", "to_addrs": ["oncall@example.com"], "ca_file": self.cafile,
                "timeout_s": 5, **extra}


class _Handler:
    def __init__(self, peer: SmtpPeer):
        self.peer = peer

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        self.peer.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                           session.ssl is not None, login))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_cert(tmp_path_factory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


@pytest.fixture
def smtp_server(smtp_cert) -> Iterator[SmtpPeer]:
    """aiosmtpd on a free loopback port: STARTTLS required before AUTH, AUTH required before mail."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # per-session chatter from aiosmtpd's threads
    cert, key = smtp_cert
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    peer = SmtpPeer("127.0.0.1", _free_port(), str(cert))

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == peer.username
              and auth_data.password.decode() == peer.password)
        if not ok:
            peer.refused_logins += 1
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    controller = Controller(_Handler(peer), hostname=peer.host, port=peer.port, tls_context=context,
                            require_starttls=True, auth_required=True, auth_require_tls=True,
                            authenticator=authenticator)
    controller.start()
    try:
        yield peer
    finally:
        controller.stop()
