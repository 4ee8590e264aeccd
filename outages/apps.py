from django.apps import AppConfig


class OutagesConfig(AppConfig):
    name = "outages"

    def ready(self) -> None:
        # Register the tasks in every process (web, commands), not only in workers:
        # services enqueue them by name after commit.
        from . import tasks  # noqa: F401
