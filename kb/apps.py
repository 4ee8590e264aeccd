from django.apps import AppConfig


class KbConfig(AppConfig):
    """Self-service: the knowledge base, the chatbot and the live chat with a human
    handoff (docs/self-service.md)."""

    name = "kb"
    verbose_name = "Self-service"

    def ready(self) -> None:
        # Register the tasks in every process (web, commands), not only in workers.
        from . import tasks  # noqa: F401
