"""Account mail (confirmation and password-reset links) over SMTP."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from fwjr.config import Settings

TIMEOUT_SECONDS = 30


def configured(settings: Settings) -> bool:
    return settings.mail_smtp_host is not None


def send(settings: Settings, to: str, subject: str, body: str) -> None:
    """Deliver one plain-text message; OSError/SMTPException reach the caller."""
    if settings.mail_smtp_host is None:
        raise RuntimeError("no SMTP server for account mail: set FWJR_MAIL_SMTP_HOST")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.mail_smtp_host, settings.mail_smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)
