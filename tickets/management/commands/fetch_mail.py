"""Fetch the support mailbox: each unread e-mail becomes a customer reply or a ticket.

    manage.py fetch_mail --maildir /var/mail/support
    manage.py fetch_mail --imap-host imap.example --imap-user support@... [--imap-folder INBOX]

Both sources hand raw messages to `tickets.inbound.mail_ingest`, which is idempotent (a
Message-ID already stored is skipped). A message is marked as read only once it has been
handled: moved from new/ to cur/ with the "S" flag in a Maildir, flagged \\Seen over IMAP.
A message that fails stays unread, so the next run tries it again.
"""

from __future__ import annotations

import imaplib
import logging
import mailbox
import os
import ssl
from collections import Counter
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tickets import inbound

log = logging.getLogger(__name__)

IMAP_PASSWORD_ENV = "FETCH_MAIL_IMAP_PASSWORD"


class MaildirSource:
    """Messages without the "S" (seen) flag, in new/ or cur/, oldest name first."""

    def __init__(self, path: str) -> None:
        try:
            self.box = mailbox.Maildir(path, factory=None, create=False)
            self.box.keys()
        except (mailbox.NoSuchMailboxError, FileNotFoundError) as exc:
            raise CommandError(f"No Maildir at {path} (it needs cur/, new/ and tmp/).") from exc

    def __enter__(self) -> MaildirSource:
        return self

    def __exit__(self, *exc) -> None:
        self.box.close()

    def pending(self) -> Iterator[tuple[str, bytes]]:
        for key in sorted(self.box.keys()):
            try:
                message = self.box.get_message(key)
                if "S" in message.get_flags():
                    continue
                yield key, self.box.get_bytes(key)
            except KeyError:  # taken meanwhile by another run or the mail client
                continue

    def done(self, key: str) -> None:
        try:
            message = self.box.get_message(key)
        except KeyError:
            return
        message.set_subdir("cur")
        message.add_flag("S")
        self.box[key] = message


class ImapSource:
    """UNSEEN messages of one folder, fetched with BODY.PEEK (so a failure leaves them
    unread) and flagged \\Seen once handled. TLS with certificate verification."""

    def __init__(
        self, *, host: str, port: int, user: str, password: str, folder: str, connect=None
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.folder = folder
        self.connect = connect or (
            lambda h, p: imaplib.IMAP4_SSL(h, p, ssl_context=ssl.create_default_context())
        )
        self.conn = None

    def __enter__(self) -> ImapSource:
        try:
            self.conn = self.connect(self.host, self.port)
            self.conn.login(self.user, self.password)
            status, _ = self.conn.select(_quoted(self.folder))
        except (OSError, imaplib.IMAP4.error) as exc:
            raise CommandError(f"IMAP {self.host}: {exc}") from exc
        if status != "OK":
            raise CommandError(f"IMAP {self.host}: cannot open folder {self.folder!r}.")
        return self

    def __exit__(self, *exc) -> None:
        if self.conn is None:
            return
        try:
            self.conn.close()
            self.conn.logout()
        except (OSError, imaplib.IMAP4.error):
            log.warning("IMAP %s: logout failed", self.host, exc_info=True)

    def pending(self) -> Iterator[tuple[str, bytes]]:
        status, data = self.conn.uid("SEARCH", None, "UNSEEN")
        if status != "OK":
            raise CommandError(f"IMAP {self.host}: search failed.")
        for uid in (data[0] or b"").split():
            status, parts = self.conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or [] if isinstance(p, tuple)), None)
            if status == "OK" and raw:
                yield uid.decode(), raw

    def done(self, key: str) -> None:
        self.conn.uid("STORE", key, "+FLAGS", "(\\Seen)")


def _quoted(folder: str) -> str:
    escaped = folder.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class Command(BaseCommand):
    help = "Turn the unread e-mails of a Maildir or an IMAP folder into ticket replies or tickets."

    def add_arguments(self, parser):
        parser.add_argument("--maildir", help="Path of a Maildir (with cur/, new/, tmp/)")
        parser.add_argument("--imap-host")
        parser.add_argument("--imap-port", type=int, default=993)
        parser.add_argument("--imap-user")
        parser.add_argument(
            "--imap-password", help=f"Default: the {IMAP_PASSWORD_ENV} environment variable"
        )
        parser.add_argument("--imap-folder", default="INBOX")

    def source(self, opts):
        if bool(opts["maildir"]) == bool(opts["imap_host"]):
            raise CommandError("Give either --maildir or --imap-host.")
        if opts["maildir"]:
            return MaildirSource(opts["maildir"])
        password = opts["imap_password"] or os.environ.get(IMAP_PASSWORD_ENV, "")
        if not opts["imap_user"] or not password:
            raise CommandError(
                f"--imap-host needs --imap-user and --imap-password (or {IMAP_PASSWORD_ENV})."
            )
        return ImapSource(
            host=opts["imap_host"],
            port=opts["imap_port"],
            user=opts["imap_user"],
            password=password,
            folder=opts["imap_folder"],
        )

    def handle(self, *args, **opts):
        counts: Counter[str] = Counter()
        with self.source(opts) as source:
            for key, raw in source.pending():
                try:
                    result = inbound.mail_ingest(raw=raw, now=timezone.now())
                except Exception:
                    # One bad message must not block the others; it stays unread.
                    log.exception("fetch_mail: message %s failed", key)
                    counts["failed"] += 1
                    continue
                source.done(key)
                counts[result.outcome] += 1
        self.stdout.write(
            f"threaded {counts['threaded']}, created {counts['created']}, "
            f"skipped {counts['skipped']}, failed {counts['failed']}"
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} message(s) failed; they stay unread.")
