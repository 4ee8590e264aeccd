"""Create a staff API client (a BI tool of the contact centre) and print its secret once."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts import services
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Create a staff API client (OAuth2 client credentials, no customer account) owned by "
        "a supervisor or admin, and print its client id and secret. The secret is stored "
        "hashed: it is shown this once. Run by an administrator (--actor, default --owner)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, help="E-mail of the owning supervisor/admin")
        parser.add_argument("--name", required=True, help="Name of the client, e.g. 'Power BI'")
        parser.add_argument(
            "--actor", help="E-mail of the administrator creating it (default: the owner)"
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=sorted(settings.STAFF_API_SCOPES),
            help="A scope to grant (repeatable); default: every staff scope",
        )

    def handle(self, *args, **opts):
        owner = self._user(opts["owner"], "--owner")
        actor = self._user(opts["actor"], "--actor") if opts["actor"] else owner
        try:
            client, secret = services.api_client_create_staff(
                owner=owner,
                name=opts["name"],
                scopes=opts["scopes"] or sorted(settings.STAFF_API_SCOPES),
                actor=actor,
                now=timezone.now(),
            )
        except services.ApiClientRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"client_id: {client.application.client_id}")
        self.stdout.write(f"client_secret: {secret}")
        self.stdout.write(f"scopes: {client.scopes}")
        self.stdout.write(
            self.style.WARNING("The secret is not stored in clear and will not be shown again.")
        )

    @staticmethod
    def _user(email: str, option: str) -> User:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"{option}: no user with the e-mail {email!r}.")
        return user
