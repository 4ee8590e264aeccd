"""Inbound contacts: e-mails and social-media messages turned into tickets or replies.

The first part is parsing, in plain Python (the standard library only): an e-mail's
Message-ID, sender, thread headers, a ticket reference in its subject, and its text
without the quoted history; the social webhook's JSON payload and its HMAC signature.

The last part has the two write helpers, `mail_ingest` and `social_ingest`. They look
the thread up and call `services.ticket_reply` or `services.ticket_create`, nothing
else, and are idempotent: an e-mail's Message-ID (or `social:<platform>:<id>`) already
stored is skipped. They import Django lazily, so the parsing can be used without it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formataddr, getaddresses
from html.parser import HTMLParser
from typing import Any

REFERENCE_RE = re.compile(r"\bPN-\d{4}-\d{6}\b", re.IGNORECASE)
MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")
# The longest external id a Message row stores (Message.email_message_id).
EXTERNAL_ID_MAX = 250
NO_SUBJECT = "(sans objet)"
NO_TEXT = "(message sans texte)"

# --- E-mail -------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    subject: str
    from_name: str
    from_address: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    attachments: tuple[str, ...]
    auto_submitted: bool

    @property
    def from_display(self) -> str:
        return formataddr((self.from_name, self.from_address)) if self.from_address else "?"

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this one answers, the most direct first (In-Reply-To, then the
        References from the newest to the oldest)."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen and mid != self.message_id:
                seen.append(mid)
        return seen

    @property
    def reference(self) -> str | None:
        return find_reference(self.subject)


def find_reference(subject: str) -> str | None:
    """The first ticket reference (PN-YYYY-NNNNNN) in a subject, upper-cased."""
    match = REFERENCE_RE.search(subject or "")
    return match.group(0).upper() if match else None


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser chokes on: take it raw
        value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    return " ".join(str(value or "").split())


def _message_ids(value: str) -> tuple[str, ...]:
    return tuple(mid for mid in MESSAGE_ID_RE.findall(value) if len(mid) <= EXTERNAL_ID_MAX)


def _message_id(msg: EmailMessage, raw: bytes) -> str:
    """The Message-ID in angle brackets; a stable stand-in made from the raw bytes when
    it is missing or too long, so that processing the same file twice still matches."""
    found = MESSAGE_ID_RE.findall(_header(msg, "Message-ID"))
    if found and len(found[0]) <= EXTERNAL_ID_MAX:
        return found[0]
    return f"<{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"


def _sender(msg: EmailMessage) -> tuple[str, str]:
    pairs = [(name, addr) for name, addr in getaddresses([_header(msg, "From")]) if "@" in addr]
    if not pairs:
        return "", ""
    name, address = pairs[0]
    return name.strip(), address.strip().lower()


def _decoded(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, KeyError, AttributeError):
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def _body_text(msg: EmailMessage) -> str:
    """The text/plain part if there is one, else the HTML part as text."""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        text = _decoded(plain)
        if text.strip():
            return text
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_decoded(html))
    return ""


def _attachment_names(msg: EmailMessage) -> tuple[str, ...]:
    if not msg.is_multipart():
        return ()
    return tuple(part.get_filename() or part.get_content_type() for part in msg.iter_attachments())


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse one RFC 5322 message (bytes, as stored in a Maildir or fetched over IMAP)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    name, address = _sender(msg)
    auto = _header(msg, "Auto-Submitted").lower()
    return ParsedMail(
        message_id=_message_id(msg, raw),
        subject=_header(msg, "Subject"),
        from_name=name,
        from_address=address,
        in_reply_to=_message_ids(_header(msg, "In-Reply-To")),
        references=_message_ids(_header(msg, "References")),
        text=strip_quoted(_body_text(msg)),
        attachments=_attachment_names(msg),
        auto_submitted=bool(auto) and auto != "no",
    )


# A reply's attribution line ("Le 3 juin 2026 à 10:00, X <x@y> a écrit :", "On Wed, Jun 3,
# 2026 at 10:00 AM X <x@y> wrote:"), which mail clients may wrap over two lines.
_ATTRIBUTION_START = re.compile(r"^\s*(le|on)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(a\s+écrit|wrote)\s*:\s*$", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(original message|message d'origine|message original|forwarded message"
    r"|message transféré)\s*-{2,}\s*$",
    re.IGNORECASE,
)
# Outlook's header block: "De : ..." / "From: ..." followed by "Envoyé : ..." / "Sent: ...".
_OUTLOOK_FROM = re.compile(r"^\s*\**(de|from)\s*:\**\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*\**(envoyé|sent|date|à|to)\s*:\**\s", re.IGNORECASE)


def _quote_starts(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _ORIGINAL_MESSAGE.match(line):
        return True
    if _ATTRIBUTION_START.match(line):
        if _ATTRIBUTION_END.search(line):
            return True
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if not following.lstrip().startswith(">") and _ATTRIBUTION_END.search(
            f"{line} {following}"
        ):
            return True
    if _OUTLOOK_FROM.match(line):
        return any(_OUTLOOK_NEXT.match(nxt) for nxt in lines[index + 1 : index + 4])
    return False


def strip_quoted(text: str) -> str:
    """The new text of a reply: everything above the attribution line ("Le ... a écrit :",
    "On ... wrote:", "-----Original Message-----", an Outlook "De : / Envoyé :" block),
    without the lines quoted with ">". The whole text if nothing else is left."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _quote_starts(lines, index):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    result = "\n".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    return result or text.strip()


class _TextExtractor(HTMLParser):
    BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
    )
    SKIPPED = frozenset({"script", "style", "head", "title", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text from an HTML body: no tags, scripts, styles or quoted blocks."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- Social webhook -------------------------------------------------------------------

SOCIAL_PLATFORMS = ("facebook", "x")
SIGNATURE_PREFIX = "sha256="
SOCIAL_TEXT_MAX = 20_000


@dataclass(frozen=True)
class SocialMessage:
    platform: str
    message_id: str
    thread_id: str
    handle: str
    name: str
    text: str
    sent_at: datetime
    url: str

    @property
    def external_id(self) -> str:
        """How the message is stored in Message.email_message_id."""
        return f"social:{self.platform}:{self.message_id}"

    @property
    def contact(self) -> str:
        return f"@{self.handle} on {self.platform}"


class PayloadError(ValueError):
    """A payload the webhook refuses: `code` is "parse_error" or "invalid"; `fields`
    maps each bad field (dotted for nested ones) to its messages."""

    def __init__(self, code: str, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


def social_signature(*, secret: str, body: bytes) -> str:
    """The value of X-PowerNext-Signature for `body`: "sha256=" and the hex HMAC."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def social_signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    """Constant-time check of the signature; never valid without a secret."""
    if not secret or not header:
        return False
    return hmac.compare_digest(
        social_signature(secret=secret, body=body).encode(), header.strip().encode()
    )


def _text(data: dict, key: str, errors: dict, name: str, *, max_length: int, blank=False):
    value = data.get(key)
    if key not in data or value is None:
        errors[name] = ["This field is required."]
    elif not isinstance(value, str):
        errors[name] = ["Must be a string."]
    elif not blank and not value.strip():
        errors[name] = ["This field may not be blank."]
    elif len(value) > max_length:
        errors[name] = [f"Ensure this field has no more than {max_length} characters."]
    else:
        return value.strip()
    return None


def social_payload_parse(body: bytes) -> SocialMessage:
    """Validate the webhook's JSON body (see docs/social-webhook.md)."""
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError("parse_error", f"JSON parse error - {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError("parse_error", "The body must be a JSON object.")
    errors: dict[str, list[str]] = {}
    platform = data.get("platform")
    if platform not in SOCIAL_PLATFORMS:
        errors["platform"] = [
            "This field is required."
            if platform is None
            else f'"{platform}" is not a valid choice ({", ".join(SOCIAL_PLATFORMS)}).'
        ]
    # The stored id is social:<platform>:<message_id>, at most EXTERNAL_ID_MAX characters.
    message_id = _text(data, "message_id", errors, "message_id", max_length=200)
    thread_id = _text(data, "thread_id", errors, "thread_id", max_length=200)
    author = data.get("author")
    handle = name = None
    if not isinstance(author, dict):
        errors["author"] = ["This field is required." if author is None else "Must be an object."]
    else:
        handle = _text(author, "handle", errors, "author.handle", max_length=100)
        name = _text(author, "name", errors, "author.name", max_length=150, blank=True)
    text = _text(data, "text", errors, "text", max_length=SOCIAL_TEXT_MAX)
    url = _text(data, "url", errors, "url", max_length=500)
    if url is not None and not re.match(r"^https?://\S+$", url):
        errors["url"] = ["Enter a valid http(s) URL."]
    sent_at = None
    raw_sent = _text(data, "sent_at", errors, "sent_at", max_length=40)
    if raw_sent is not None:
        try:
            sent_at = datetime.fromisoformat(raw_sent.replace("Z", "+00:00"))
        except ValueError:
            errors["sent_at"] = ["Enter an ISO-8601 date and time."]
        else:
            if sent_at.tzinfo is None:
                errors["sent_at"] = ["Give a time zone offset (or Z)."]
    if errors:
        raise PayloadError("invalid", "The request has invalid fields.", errors)
    handle = handle.lstrip("@")
    return SocialMessage(
        platform=platform,
        message_id=message_id,
        thread_id=thread_id,
        handle=handle,
        name=name or "",
        text=text,
        sent_at=sent_at,
        url=url,
    )


# --- Writes: look the thread up, then call the ticket services ----------------------------


@dataclass(frozen=True)
class Ingested:
    outcome: str  # "threaded" | "created" | "skipped"
    reference: str | None = None
    reason: str = ""


def _lock(key: str) -> None:
    """Serialise the handling of one message or thread until the transaction ends, so two
    deliveries at once (a retried webhook, two fetches) cannot both write."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _live_ticket(ticket):
    """The ticket a reply goes to: the one it was merged into, if any."""
    hops = 0
    while ticket.merged_into_id and hops < 10:
        ticket = ticket.merged_into
        hops += 1
    return ticket


def _takes_replies(ticket, now: datetime) -> bool:
    """A closed ticket never reopens, and a reply after the reopen window on a resolved
    one starts a new ticket (see `states.customer_reply_target`)."""
    from accounts.selectors import parameter_get

    from .domain import states

    if ticket.status == states.CLOSED:
        return False
    if ticket.status == states.RESOLVED:
        target = states.customer_reply_target(
            current=ticket.status,
            resolved_at=ticket.resolved_at,
            now=now,
            reopen_days=int(parameter_get(key="ticket_reopen_days")),
        )
        return target is not None
    return True


def _reply(ticket, *, now: datetime, **kwargs) -> bool:
    """A customer reply; False if the ticket refused it (closed meanwhile)."""
    from . import services

    try:
        services.ticket_reply(ticket=ticket, now=now, from_customer=True, **kwargs)
    except services.NotAllowed:
        return False
    return True


def _mail_thread(mail: ParsedMail):
    """The ticket a mail belongs to: by the reference in its subject, else by a stored
    Message-ID it answers (a message of the ticket, or the mail that opened it)."""
    from .models import Channel, Message, Ticket

    related = Ticket.objects.select_related("merged_into", "merged_into__merged_into")
    if mail.reference:
        ticket = related.filter(reference=mail.reference).first()
        if ticket is not None:
            return ticket
    ids = mail.thread_ids
    if not ids:
        return None
    found = {
        m.email_message_id: m.ticket_id
        for m in Message.objects.filter(email_message_id__in=ids).only("email_message_id", "ticket")
    }
    for ticket in related.filter(channel=Channel.EMAIL, details__email_message_id__in=ids):
        found.setdefault(ticket.details["email_message_id"], ticket.pk)
    for mid in ids:
        if mid in found:
            return related.get(pk=found[mid])
    return None


def _mail_seen(message_id: str) -> bool:
    from .models import Channel, Message, Ticket

    return (
        Message.objects.filter(email_message_id=message_id).exists()
        or Ticket.objects.filter(
            channel=Channel.EMAIL, details__email_message_id=message_id
        ).exists()
    )


def _mail_body(mail: ParsedMail, *, header: bool) -> str:
    text = mail.text or NO_TEXT
    if mail.attachments:
        names = ", ".join(mail.attachments)
        text += f"\n\n[Pièces jointes non importées : {names}]"
    return f"De : {mail.from_display}\n\n{text}" if header else text


def mail_ingest(*, raw: bytes, now: datetime) -> Ingested:
    """Thread one inbound e-mail into its ticket as a customer reply, or open an EMAIL
    ticket. Skips a Message-ID already stored, automatic replies (RFC 3834) and our own
    notifications (From: DEFAULT_FROM_EMAIL), which would otherwise loop."""
    from django.conf import settings
    from django.db import transaction

    from accounts.models import Role, User
    from accounts.selectors import user_memberships

    from . import services
    from .models import Channel

    mail = parse_mail(raw)
    if mail.auto_submitted:
        return Ingested("skipped", reason="auto-submitted")
    own = getaddresses([settings.DEFAULT_FROM_EMAIL])[0][1].lower()
    if own and mail.from_address == own:
        return Ingested("skipped", reason="own notification")
    with transaction.atomic():
        _lock(f"mail:{mail.message_id}")
        if _mail_seen(mail.message_id):
            return Ingested("skipped", reason="duplicate")
        sender = (
            User.objects.filter(email__iexact=mail.from_address, is_active=True).first()
            if mail.from_address
            else None
        )
        memberships = list(user_memberships(user=sender)) if sender else []
        ticket = _mail_thread(mail)
        if ticket is not None:
            ticket = _live_ticket(ticket)
            member = any(m.account_id == ticket.account_id for m in memberships)
            if _takes_replies(ticket, now) and _reply(
                ticket,
                now=now,
                author=sender if member else None,
                body=_mail_body(mail, header=not member),
                channel=Channel.EMAIL,
                email_message_id=mail.message_id,
            ):
                return Ingested("threaded", ticket.reference)
        details = {"email_message_id": mail.message_id}
        if ticket is not None:
            details["follows"] = ticket.reference
        created = services.ticket_create(
            channel=Channel.EMAIL,
            category="OTHER",
            subject=mail.subject[:200] or NO_SUBJECT,
            body=_mail_body(mail, header=False),
            now=now,
            account=memberships[0].account if memberships else None,
            requester=sender if sender is not None and sender.role == Role.CUSTOMER else None,
            requester_name=mail.from_name,
            requester_contact=mail.from_address,
            details=details,
        )
    return Ingested("created", created.reference)


SOCIAL_LABELS = {"facebook": "Facebook", "x": "X"}


def social_ingest(*, message: SocialMessage, now: datetime) -> Ingested:
    """A message of a known thread becomes a customer reply on its ticket; a new thread
    (or one whose ticket no longer takes replies) opens a SOCIAL ticket."""
    from django.db import transaction

    from . import services
    from .models import Channel, Message, Ticket

    body = f"{message.text}\n\n{message.url}"
    with transaction.atomic():
        _lock(f"social:{message.platform}:{message.thread_id}")
        if Message.objects.filter(email_message_id=message.external_id).exists():
            return Ingested("skipped", reason="duplicate")
        tickets = list(
            Ticket.objects.select_related("merged_into", "merged_into__merged_into")
            .filter(
                channel=Channel.SOCIAL,
                details__social_platform=message.platform,
                details__social_thread=message.thread_id,
            )
            .order_by("-created_at", "-id")
        )
        if any(t.details.get("social_message_id") == message.external_id for t in tickets):
            return Ingested("skipped", reason="duplicate")
        if tickets:
            ticket = _live_ticket(tickets[0])
            if _takes_replies(ticket, now) and _reply(
                ticket,
                now=now,
                author=None,
                body=body,
                channel=Channel.SOCIAL,
                email_message_id=message.external_id,
            ):
                return Ingested("threaded", ticket.reference)
        label = SOCIAL_LABELS[message.platform]
        first_line = message.text.strip().splitlines()[0]
        details = {
            "social_platform": message.platform,
            "social_thread": message.thread_id,
            "social_message_id": message.external_id,
            "social_handle": message.handle,
            "social_url": message.url,
            "social_sent_at": message.sent_at.isoformat(),
        }
        if tickets:
            details["follows"] = tickets[0].reference
        created = services.ticket_create(
            channel=Channel.SOCIAL,
            category="OTHER",
            subject=f"{label} @{message.handle} : {first_line}"[:200],
            body=body,
            now=now,
            requester_name=message.name or f"@{message.handle}",
            requester_contact=message.contact,
            details=details,
        )
    return Ingested("created", created.reference)
