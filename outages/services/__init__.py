"""Writes of the outages app, one module per part of the work:

- ``incidents``: open, classify, confirm, publish updates, estimates, restore, close;
- ``reports``: customer outage and streetlight reports, regrouping;
- ``crews``: dispatches, field notes, diagnostic fees;
- ``notifications``: subscriptions, fan-out, delivery, the priority call list;
- ``settlement``: compensation, availability credits, post-incident reviews;
- ``sweep``: what Celery beat runs every minute.
"""


class OutageError(Exception):
    """Base class for refusals of the outages services."""


class InvalidInput(OutageError):
    """Bad values from a form or the API; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(OutageError):
    pass
