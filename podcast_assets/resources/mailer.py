"""Email delivery: SMTP when a host is configured, else `.eml` files in the home folder's outbox."""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

import dagster as dg

from podcast_assets.core.atomic_files import atomic_write_bytes
from podcast_assets.core.untrusted_text import header_text
from podcast_assets.settings import home_dir

# What one attempt came to (recorded in brief_deliveries / delivery_attempts; see operations/deliveries.py).
SENT, WRITTEN, FAILED, REJECTED, UNKNOWN_NO_REPLY = "sent", "written", "failed", "rejected", "unknown_no_reply"


@dataclass(frozen=True)
class SendOutcome:
    """`sent`/`written`: delivered. `failed`: not delivered, safe to try again (no connection, 4xx, dropped before
    the message was handed over). `rejected`: the server refused this message or recipient for good (5xx).
    `unknown_no_reply`: the whole message was handed over but no answer came (dropped, timed out): the server
    may have accepted it, so it is not sent again unless asked."""

    status: str
    error: str | None = None
    smtp_code: int | None = None

    @property
    def delivered(self) -> bool:
        return self.status in (SENT, WRITTEN)


class DeliveryFailed(RuntimeError):
    def __init__(self, outcome: SendOutcome) -> None:
        self.outcome = outcome
        super().__init__(f"{outcome.status}: {outcome.error}")


class _TrackedSMTP(smtplib.SMTP):
    """smtplib.SMTP that notes when the message body, with its final ".", has been handed to the socket: after
    that point a lost connection leaves the outcome unknown; before it, the message was certainly not accepted."""

    message_handed_over = False

    def send(self, s):
        super().send(s)
        if isinstance(s, bytes | bytearray) and s.endswith(b"\r\n.\r\n"):
            self.message_handed_over = True


def _error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _outcome_of(error: BaseException, smtp: _TrackedSMTP | None) -> SendOutcome:
    """Classify a failed SMTP attempt. The server's answer decides where there is one (5xx to this message or
    recipient: rejected; anything else: failed); without an answer, whether the message was handed over does."""
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        code = next(iter(error.recipients.values()))[0]
        return SendOutcome(REJECTED if 500 <= code < 600 else FAILED, _error_text(error), code)
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        permanent = 500 <= code < 600 and isinstance(error, smtplib.SMTPDataError)
        return SendOutcome(REJECTED if permanent else FAILED, _error_text(error), code)
    if smtp is not None and smtp.message_handed_over:
        return SendOutcome(UNKNOWN_NO_REPLY, _error_text(error))
    return SendOutcome(FAILED, _error_text(error))


@dataclass(frozen=True)
class OutgoingBrief:
    to_address: str
    to_name: str | None
    subject: str
    text: str
    html: str
    message_id: str
    outbox_name: str
    # (https URL, mailto URL) for List-Unsubscribe with RFC 8058 one-click; None for mail that is no subscription.
    list_unsubscribe: tuple[str, str] | None = None


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
    if brief.list_unsubscribe:
        https_url, mailto_url = brief.list_unsubscribe
        message["List-Unsubscribe"] = f"<{https_url}>, <{mailto_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
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
    # At-most-once by default: a brief whose outcome is unknown (the run died during the SMTP transaction, or no
    # answer came after the message) is not sent again by later runs; `podcast-brief deliveries resend` sends it.
    # True (or PODCAST_BRIEF_RESEND_UNCERTAIN=true): later runs resend it, with the same Message-ID (at-least-once).
    resend_uncertain: bool | None = None

    def _setting(self, value: object, env: str, default: str | None = None) -> str | None:
        return str(value) if value not in (None, "") else (os.environ.get(env) or default)

    def host(self) -> str | None:
        return self._setting(self.smtp_host, "PODCAST_BRIEF_SMTP_HOST")

    def sender(self) -> str:
        return self._setting(self.mail_from, "PODCAST_BRIEF_MAIL_FROM", "Podcast Brief <brief@localhost>")

    def resends_uncertain(self) -> bool:
        value = self._setting(self.resend_uncertain, "PODCAST_BRIEF_RESEND_UNCERTAIN", "false")
        return value.lower() in ("1", "true", "yes")

    def transport(self) -> str:
        return "smtp" if self.host() else "outbox"

    def deliver(self, brief: OutgoingBrief, day: str) -> str:
        """Send (or write) one message; returns `sent` or `written`. Raises `DeliveryFailed` otherwise."""
        outcome = self.send(brief, day)
        if not outcome.delivered:
            raise DeliveryFailed(outcome)
        return outcome.status

    def send(self, brief: OutgoingBrief, day: str) -> SendOutcome:
        """One attempt to send (or write) the message; never raises for a transport problem: the outcome says
        what happened (see `SendOutcome`)."""
        message = build_message(self.sender(), brief)
        host = self.host()
        if not host:
            outbox = home_dir() / "outbox" / day
            outbox.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(outbox / f"{brief.outbox_name}.eml", bytes(message))
            return SendOutcome(WRITTEN)
        port = int(self._setting(self.smtp_port, "PODCAST_BRIEF_SMTP_PORT", "25"))
        starttls = self._setting(self.smtp_starttls, "PODCAST_BRIEF_SMTP_STARTTLS", "false").lower() in (
            "1",
            "true",
            "yes",
        )
        user = self._setting(self.smtp_user, "PODCAST_BRIEF_SMTP_USER")
        smtp: _TrackedSMTP | None = None
        try:
            smtp = _TrackedSMTP(host, port, timeout=self.timeout_s)
            if starttls:
                smtp.starttls()
            if user:
                smtp.login(user, self._setting(self.smtp_password, "PODCAST_BRIEF_SMTP_PASSWORD", ""))
            smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            if smtp is not None:
                smtp.close()
            return _outcome_of(error, smtp)
        try:
            smtp.quit()  # the message is accepted already: a failing QUIT changes nothing
        except (OSError, smtplib.SMTPException):
            smtp.close()
        return SendOutcome(SENT)
