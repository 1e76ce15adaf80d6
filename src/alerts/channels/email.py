"""Email over SMTP: plain text, STARTTLS and login optional, one message per notification.

Each attempt opens its own connection (alerts are rare; a kept-open connection would time
out between them). The password comes from the environment (the config names the variable).
Temporary failures (4xx replies, a dropped connection, a timeout) are retried; permanent ones
(5xx, a refused login) are not.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from src.alerts import format as fmt
from src.alerts.channels.base import Channel, DeliveryError

__all__ = ["EmailChannel", "email_message"]


def email_message(
    note: dict[str, Any],
    *,
    sender: str,
    recipients: tuple[str, ...],
    prefix: str,
    dashboard_url: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{prefix} {fmt.headline(note)}".strip()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(note["at"], usegmt=True)
    msg["Message-ID"] = make_msgid("telemetry-alerts")
    msg["X-Alert-Key"] = note["key"]
    msg["X-Alert-Notification"] = note["id"]
    width = max(len(label) for label, _ in fmt.details(note, dashboard_url))
    lines = [note["message"], ""]
    lines += [
        f"{label + ':':<{width + 1}} {value}" for label, value in fmt.details(note, dashboard_url)
    ]
    lines += ["", "Acknowledge: telemetry-alerts ack " + note["key"]]
    msg.set_content("\n".join(lines) + "\n")
    return msg


class EmailChannel(Channel):
    name = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        recipients: tuple[str, ...],
        starttls: bool = False,
        username: str = "",
        password: str = "",
        subject_prefix: str = "[telemetry]",
        dashboard_url: str = "",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if not recipients:
            raise ValueError("the email channel needs at least one recipient")
        self.host, self.port = host, port
        self.sender, self.recipients = sender, recipients
        self.starttls = starttls
        self.username, self._password = username, password
        self.prefix = subject_prefix
        self.dashboard_url = dashboard_url
        self._tls = tls_context
        self.target = f"smtp://{host}:{port} -> {', '.join(recipients)}"
        self.secrets = (password,) if password else ()

    def send(self, note: dict[str, Any], timeout: float) -> str:
        msg = email_message(
            note,
            sender=self.sender,
            recipients=self.recipients,
            prefix=self.prefix,
            dashboard_url=self.dashboard_url,
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self._tls or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password)
                refused = smtp.send_message(msg, self.sender, list(self.recipients))
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"login refused: {exc.smtp_code}", retryable=False, status=exc.smtp_code
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(
                f"all recipients refused: {codes}",
                retryable=all(400 <= c < 500 for c in codes),
                status=codes[0],
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}",
                retryable=400 <= exc.smtp_code < 500,
                status=exc.smtp_code,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"server does not support it: {exc}", retryable=False) from None
        except TimeoutError:
            raise DeliveryError(f"timed out after {timeout:g}s", retryable=True) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS failed: {exc.reason}", retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True) from None
        if refused:
            return f"accepted, refused for {', '.join(sorted(refused))}"
        return "accepted"


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
