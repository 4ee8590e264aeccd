from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Comptes")

    def ready(self) -> None:
        # Register the tasks in every process, so services can enqueue them by
        # name without importing the module above them.
        from . import tasks  # noqa: F401
