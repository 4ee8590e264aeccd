from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        from accounts.hooks import register_erasure_blocker
        from metering import hooks as metering_hooks

        from . import tasks  # noqa: F401 - register tasks in every process, for services
        from .selectors.invoices import balance_erasure_blocker
        from .services.invoices import on_rebill_request

        # Re-estimated reads flag the invoices resting on them for rebilling.
        if on_rebill_request not in metering_hooks.rebill_requests:
            metering_hooks.rebill_requests.append(on_rebill_request)
        register_erasure_blocker(balance_erasure_blocker)
        # An ombudsman's money remedy, marked done in tickets, is booked here.
        from tickets import hooks as ticket_hooks

        from .services.remedies import ombudsman_remedy_book

        ticket_hooks.register_remedy_handler(ombudsman_remedy_book)
