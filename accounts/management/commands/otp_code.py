from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Print the current TOTP code of a user's device (development only)."

    def add_arguments(self, parser):
        parser.add_argument("email")

    def handle(self, *args, **opts):
        if not settings.DEBUG:
            raise CommandError("otp_code is a development aid and only runs with DJANGO_DEBUG=1.")
        device = TOTPDevice.objects.filter(
            user__email=opts["email"].lower(), confirmed=True
        ).first()
        if device is None:
            raise CommandError(f"{opts['email']} has no confirmed TOTP device.")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
