import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand
from django.utils import timezone


class Command(BaseCommand):
    help = "Load the demo data of every app (idempotent: running it twice changes nothing)."

    def handle(self, *args, **opts):
        now = timezone.now()
        # Apps are visited in INSTALLED_APPS order, which is their dependency
        # order, so each app's demo can rely on the data of the ones before it.
        for config in apps.get_app_configs():
            module_name = f"{config.name}.demo"
            if importlib.util.find_spec(module_name) is None:
                continue
            module = importlib.import_module(module_name)
            summary = module.seed(now=now)
            self.stdout.write(f"{config.label}: {summary}")
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
