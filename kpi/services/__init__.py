"""Writes of the kpi app. kpi only reads the other apps; what it writes is its own:
``quality`` holds QA reviews, calibration, coaching notes and training records."""


class KpiError(Exception):
    """Base class for refusals of the kpi services."""


class InvalidInput(KpiError):
    """Bad values from a form; `errors` maps field names (None: the whole form) to
    messages."""

    def __init__(self, errors: dict[str | None, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotAllowed(KpiError):
    """The user's role may not do this."""


class AlreadyDone(KpiError):
    """The same supervisor already reviewed this contact, or scored this session."""


class SessionClosed(KpiError):
    """The calibration session is closed: nothing more can be scored or agreed."""


class NotEnoughScores(KpiError):
    """A calibration session closes with at least two supervisors' scores."""
