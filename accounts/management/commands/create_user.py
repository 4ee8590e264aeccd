from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role


class Command(BaseCommand):
    help = (
        "Create or update a user (idempotent). "
        "With --totp-secret, register a confirmed TOTP device."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--totp-secret", dest="totp_secret", help="TOTP key as hex (>= 20 digits)"
        )

    def handle(self, *args, **opts):
        try:
            user, created = services.user_upsert(
                email=opts["email"],
                password=opts["password"],
                role=opts["role"],
                first_name=opts["first_name"],
                last_name=opts["last_name"],
                totp_secret_hex=opts["totp_secret"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except services.AccountsError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} {user.email} ({user.role})"))
