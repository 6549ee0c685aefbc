"""Email delivery: SMTP when a host is configured, else `.eml` files in the home folder's outbox."""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import dagster as dg

from podcast_assets.core.untrusted_text import header_text
from podcast_assets.settings import home_dir


@dataclass(frozen=True)
class OutgoingBrief:
    to_address: str
    to_name: str | None
    subject: str
    text: str
    html: str
    message_id: str
    outbox_name: str


def build_message(sender: str, brief: OutgoingBrief) -> EmailMessage:
    """The message. Subject and names may carry text from feeds: each is one line with no CR/LF or other control
    character (`header_text`), and display names are quoted by the email package, so none can add a header."""
    message = EmailMessage()
    message["From"] = header_text(sender, 320)
    name = header_text(brief.to_name)
    address = header_text(brief.to_address, 320)
    message["To"] = Address(display_name=name, addr_spec=address) if name else address
    message["Subject"] = header_text(brief.subject, 300)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = brief.message_id
    message.set_content(brief.text)
    message.add_alternative(brief.html, subtype="html")
    return message


class MailerResource(dg.ConfigurableResource):
    """Settings fall back to PODCAST_BRIEF_SMTP_HOST / _PORT / _USER / _PASSWORD / _STARTTLS and
    PODCAST_BRIEF_MAIL_FROM, read when a message is sent. Without a host, messages are written to the outbox."""

    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool | None = None
    mail_from: str | None = None
    timeout_s: float = 30.0

    def _setting(self, value: object, env: str, default: str | None = None) -> str | None:
        return str(value) if value not in (None, "") else (os.environ.get(env) or default)

    def host(self) -> str | None:
        return self._setting(self.smtp_host, "PODCAST_BRIEF_SMTP_HOST")

    def sender(self) -> str:
        return self._setting(self.mail_from, "PODCAST_BRIEF_MAIL_FROM", "Podcast Brief <brief@localhost>")

    def transport(self) -> str:
        return "smtp" if self.host() else "outbox"

    def deliver(self, brief: OutgoingBrief, day: str) -> str:
        """Send (or write) one message; returns the status to record: `sent` or `written`. Raises on failure."""
        message = build_message(self.sender(), brief)
        host = self.host()
        if not host:
            outbox = home_dir() / "outbox" / day
            outbox.mkdir(parents=True, exist_ok=True)
            Path(outbox / f"{brief.outbox_name}.eml").write_bytes(bytes(message))
            return "written"
        port = int(self._setting(self.smtp_port, "PODCAST_BRIEF_SMTP_PORT", "25"))
        starttls = self._setting(self.smtp_starttls, "PODCAST_BRIEF_SMTP_STARTTLS", "false").lower() in (
            "1",
            "true",
            "yes",
        )
        user = self._setting(self.smtp_user, "PODCAST_BRIEF_SMTP_USER")
        with smtplib.SMTP(host, port, timeout=self.timeout_s) as smtp:
            if starttls:
                smtp.starttls()
            if user:
                smtp.login(user, self._setting(self.smtp_password, "PODCAST_BRIEF_SMTP_PASSWORD", ""))
            smtp.send_message(message)
        return "sent"
