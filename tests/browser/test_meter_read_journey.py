"""Playwright: a customer sends a meter read with a photo from a phone."""

from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from accounts.models import Role, SupplyPoint
from metering.models import Meter, MeterRegister, Reading
from tests.factories import MembershipFactory, PremiseFactory, UserFactory

from .conftest import PHONE, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_customer_sends_a_read_with_a_photo(live_server, page_factory, shot, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    customer = UserFactory(role=Role.CUSTOMER, first_name="Claire", email="claire@example.fr")
    account = MembershipFactory(user=customer).account
    point = SupplyPoint.objects.create(
        premise=PremiseFactory(account=account, city="Paris"),
        market="FR_PRM",
        identifier="12345678901234",
        subscribed_kva=9,
    )
    meter = Meter.objects.create(
        supply_point=point, serial="M-0007", installed_at=timezone.now() - timedelta(days=365)
    )
    MeterRegister.objects.create(meter=meter, code="BASE")
    photo = tmp_path / "compteur.jpg"
    Image.new("RGB", (320, 240), (230, 230, 230)).save(photo, "JPEG")

    page = page_factory(PHONE)
    log_in(page, live_server.url, customer.email)
    page.goto(f"{live_server.url}/portal/")
    page.get_by_role("link", name="Relevés").click()
    expect(page.get_by_role("heading", name="Transmettre un relevé")).to_be_visible()
    page.get_by_label("Index Base (kWh)").fill("4321")
    page.get_by_label("Photo du compteur").set_input_files(str(photo))
    page.get_by_role("button", name="Envoyer le relevé").click()
    expect(page.get_by_text("Relevé enregistré. Merci !")).to_be_visible()
    expect(page.get_by_test_id("last-readings")).to_contain_text("4321")
    expect(page.get_by_test_id("last-readings")).to_contain_text("Relevé client avec photo")
    shot(page, "meter-read-accepted-phone")
    reading = Reading.objects.get()
    assert (reading.value, reading.source, reading.status) == (4321, "CUSTOMER_PHOTO", "ACCEPTED")
    assert reading.photo is not None
