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
    # Parallel SMTP connections `brief_deliveries` sends over, each kept open for many messages.
    max_senders: int = 4

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
        """One attempt to send (or write) the message over its own connection; never raises for a transport
        problem: the outcome says what happened (see `SendOutcome`)."""
        with self.session() as session:
            return session.send(brief, day)

    def session(self) -> MailSession:
        """A connection kept open for many messages (one per sender thread: `max_senders` at most)."""
        return MailSession(self)


class MailSession:
    """Sends messages one after another over one SMTP connection, opened on first use and dropped after any error
    (the next message opens a fresh one). Outcomes follow the same rules as one connection per message. Not
    thread-safe: one session per sender."""

    def __init__(self, mailer: MailerResource) -> None:
        self.mailer = mailer
        self.smtp: _TrackedSMTP | None = None
        self.messages_on_connection = 0

    def __enter__(self) -> MailSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _connect(self) -> _TrackedSMTP:
        mailer = self.mailer
        port = int(mailer._setting(mailer.smtp_port, "PODCAST_BRIEF_SMTP_PORT", "25"))
        starttls = mailer._setting(mailer.smtp_starttls, "PODCAST_BRIEF_SMTP_STARTTLS", "false").lower() in (
            "1",
            "true",
            "yes",
        )
        user = mailer._setting(mailer.smtp_user, "PODCAST_BRIEF_SMTP_USER")
        smtp = _TrackedSMTP(mailer.host(), port, timeout=mailer.timeout_s)
        try:
            if starttls:
                smtp.starttls()
            if user:
                smtp.login(user, mailer._setting(mailer.smtp_password, "PODCAST_BRIEF_SMTP_PASSWORD", ""))
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, brief: OutgoingBrief, day: str) -> SendOutcome:
        message = build_message(self.mailer.sender(), brief)
        if not self.mailer.host():
            outbox = home_dir() / "outbox" / day
            outbox.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(outbox / f"{brief.outbox_name}.eml", bytes(message))
            return SendOutcome(WRITTEN)
        # A kept connection the server closed while idle fails before the message is handed over: certainly not
        # delivered, so that one case is tried once more on a fresh connection.
        for fresh_retry in (False, True):
            reused = self.smtp is not None
            try:
                if self.smtp is None:
                    self.smtp = self._connect()
                self.smtp.message_handed_over = False
                self.smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as error:
                outcome = _outcome_of(error, self.smtp)
                self._drop()
                no_answer = not isinstance(error, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused)
                if reused and no_answer and outcome.status == FAILED and not fresh_retry:
                    continue
                return outcome
            self.messages_on_connection += 1
            return SendOutcome(SENT)
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp, self.messages_on_connection = None, 0

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()  # every message is accepted already: a failing QUIT changes nothing
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
        self.smtp, self.messages_on_connection = None, 0
