from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from . import tasks  # noqa: F401 - register tasks in every process, for services
