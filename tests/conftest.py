import pytest
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import Role

from .factories import UserFactory, add_totp


@pytest.fixture(autouse=True)
def _isolated_cache():
    """Each test starts with an empty cache (Redis, real)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db):
    def make(role: str = Role.CUSTOMER, *, totp: bool = False, **kwargs):
        user = UserFactory(role=role, **kwargs)
        if totp:
            add_totp(user)
        return user

    return make


@pytest.fixture
def login(client):
    """Log a user in; staff (or anyone with a device) are also OTP-verified."""

    def do(user, *, verified: bool | None = None):
        client.force_login(user)
        if verified is None:
            verified = user.is_staff_role
        if verified:
            device = user.totpdevice_set.filter(confirmed=True).first() or add_totp(user)
            session = client.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
        return client

    return do


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Rows that data migrations create (SLA packages, SLA policies, calendars, the
    METERING workflow policy, the dispute settlement clock, the default tariffs).

    A transactional test flushes the database afterwards, migration data
    included, so every database test puts them back (idempotently).
    """
    import importlib

    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if not (marker or names & {"db", "transactional_db", "live_server"}):
        return
    transactional = bool(
        names & {"transactional_db", "live_server"}
        or (marker and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])))
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    from django.apps import apps

    importlib.import_module("accounts.migrations.0004_sla_packages").create(apps, None)
    importlib.import_module("tickets.migrations.0002_default_policies").create(apps, None)
    importlib.import_module("tickets.migrations.0005_metering_workflow_policy").create(apps, None)
    importlib.import_module("tickets.migrations.0006_dispute_settlement_clock").create(apps, None)
    importlib.import_module("billing.migrations.0002_default_tariffs").create(apps, None)
    importlib.import_module("accounts.migrations.0005_package_service_credit").create(apps, None)
    importlib.import_module("tickets.migrations.0008_incident_policy").create(apps, None)
    importlib.import_module("outages.migrations.0002_reference_data").create(apps, None)
    importlib.import_module("kpi.migrations.0002_default_qa_checklist").create(apps, None)
