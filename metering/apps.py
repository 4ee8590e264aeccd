from django.apps import AppConfig


class MeteringConfig(AppConfig):
    name = "metering"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from tickets import hooks as ticket_hooks

        from . import tasks  # noqa: F401 - register tasks in every process, for services
        from .models import Reading
        from .services import workflow

        # tickets sits below metering and cannot call the workflow: the sweep finds
        # the next step of a breached workflow clock here.
        ticket_hooks.register_breach_handler(
            workflow.REMOTE_READ_DONE, workflow.on_remote_read_breached
        )
        ticket_hooks.register_breach_handler(
            workflow.READ_SETTLED, workflow.on_customer_read_breached
        )
        # Reads are recorded by several services (portal, head-end, agents, site
        # visits); one receiver lets every one of them close the steps waiting for it.
        post_save.connect(
            workflow.on_reading_saved, sender=Reading, dispatch_uid="metering.workflow.reading"
        )
