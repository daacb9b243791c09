"""Email over SMTP (smtplib): STARTTLS (or implicit TLS) and login; a text and an HTML body.

Log text goes into the HTML body escaped (``html.escape``), inside ``<pre>``; the Message-ID is
derived from the idempotency key, so a mail client that deduplicates by Message-ID shows a
retried delivery once.
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from core.errors import NotifierError
from core.notifiers.base import Delivery, Message, NotifierOptions, NotifierSecret

_ADDRESS_HELP = "must look like name@example.com"


def _address(value: str) -> str:
    value = value.strip()
    if "@" not in value or any(c in value for c in " \r\n<>,") or value.startswith("@") or value.endswith("@"):
        raise ValueError(f"{value!r} {_ADDRESS_HELP}")
    return value


class EmailOptions(NotifierOptions):
    host: str = Field(min_length=1, description="SMTP server.")
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="STARTTLS, implicit TLS, or none.")
    username: str | None = Field(None, description="Login name; unset = no login.")
    from_addr: str
    to_addrs: list[str] = Field(min_length=1, max_length=50)
    ca_file: str | None = Field(None, description="CA bundle for a private or self-signed server certificate.")
    timeout_s: float = Field(15.0, gt=0, le=120)

    @field_validator("from_addr")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value)

    @field_validator("to_addrs")
    @classmethod
    def _to(cls, values: list[str]) -> list[str]:
        return [_address(v) for v in values]


class EmailSecret(NotifierSecret):
    password: SecretStr | None = None


class EmailNotifier:
    type: ClassVar[str] = "email"
    Options: ClassVar[type[NotifierOptions]] = EmailOptions
    Secret: ClassVar[type[NotifierSecret]] = EmailSecret

    def __init__(self, options: EmailOptions, secret: EmailSecret | None):
        self.options = options
        self.password = secret.password.get_secret_value() if secret and secret.password else None
        if options.username and not self.password:
            raise ValueError("secret.password is required when config.username is set")

    def compose(self, message: Message) -> EmailMessage:
        o = self.options
        mail = EmailMessage()
        mail["Subject"] = f"{message.headline}: {message.title}"[:250].replace("\n", " ").replace("\r", " ")
        mail["From"] = o.from_addr
        mail["To"] = ", ".join(o.to_addrs)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = f"<{message.idempotency_key}@loglytics>"
        mail["X-Loglytics-Idempotency-Key"] = message.idempotency_key
        if message.thread_ref:
            mail["In-Reply-To"] = mail["References"] = message.thread_ref
        mail.set_content(message.plain_text())
        mail.add_alternative(render_html(message), subtype="html")
        return mail

    def send(self, message: Message) -> Delivery:
        mail = self.compose(message)
        try:
            with self._connect() as smtp:
                refused = smtp.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifierError(f"SMTP login refused ({exc.smtp_code})", permanent=True) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifierError(f"SMTP refused every recipient: {', '.join(exc.recipients)}", permanent=True) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifierError(f"SMTP server does not support it: {exc}", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            raise NotifierError(f"SMTP error {exc.smtp_code}: {text[:200]}", permanent=500 <= exc.smtp_code < 600) \
                from exc
        except ssl.SSLError as exc:
            raise NotifierError(f"TLS with {self.options.host} failed: {exc.reason or exc}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:  # connection refused, timeouts, dropped sessions
            raise NotifierError(f"SMTP {self.options.host}:{self.options.port} unreachable: {exc}") from exc
        # the first (message-id) line is the delivery's reference: replies thread under it
        return Delivery(ref=mail["Message-ID"], details={"refused": sorted(refused)} if refused else {})

    def _connect(self) -> smtplib.SMTP:
        o = self.options
        context = ssl.create_default_context(cafile=o.ca_file) if o.security != "none" else None
        if o.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(o.host, o.port, timeout=o.timeout_s, context=context,
                                                  local_hostname=_local_name())
        else:
            smtp = smtplib.SMTP(o.host, o.port, timeout=o.timeout_s, local_hostname=_local_name())
        try:
            smtp.ehlo()
            if o.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if o.username:
                smtp.login(o.username, self.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        pass


def _local_name() -> str:
    return socket.gethostname() or "localhost"  # not getfqdn(): a DNS lookup that can hang


def render_html(message: Message) -> str:
    """The HTML body. Every dynamic value is escaped: log lines arrive from untrusted sources."""
    e = html.escape
    rows = "".join(f"<tr><th align=\"left\">{e(k)}</th><td>{e(v)}</td></tr>" for k, v in message.facts())
    samples = "\n".join(message.sample_lines())
    parts = [
        "<!DOCTYPE html><html><body>",
        f"<h2>{e(message.headline)}</h2>",
        f"<p>{e(message.title)}</p>",
        f"<table>{rows}</table>",
    ]
    if samples:
        parts.append(f"<h3>Sample lines</h3><pre>{e(samples)}</pre>")
    if message.link:
        parts.append(f"<p><a href=\"{e(message.link, quote=True)}\">Open in Loglytics</a></p>")
    parts.append("</body></html>")
    return "\n".join(parts)
