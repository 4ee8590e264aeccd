"""Customer reads from the portal: plausibility, photos (real image, size, GPS stripped),
the review path with its ticket, assessing after estimates, and who may submit."""

from datetime import UTC, datetime, timedelta
from io import BytesIO

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import MemberRole, SupplyPoint
from metering import hooks
from metering.models import (
    Meter,
    MeterRegister,
    Reading,
    ReadingPhoto,
    ReadingQuality,
    ReadingSource,
    ReadingStatus,
)
from metering.services import readings
from tests.factories import MembershipFactory, PremiseFactory
from tickets.models import Ticket

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
TODAY = "2026-06-15"
GPS_IFD = 0x8825
EXIF_IFD = 0x8769


def jpeg(*, gps: bool = False, taken: str | None = "2026:06:15 11:30:00", size=(64, 48)) -> bytes:
    image = Image.new("RGB", size, "white")
    exif = Image.Exif()
    exif[0x0110] = "Phone X"
    if taken:
        exif.get_ifd(EXIF_IFD)[0x9003] = taken
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
    out = BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def upload(content: bytes, name="compteur.jpg", content_type="image/jpeg"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def _clock_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def home(db, make_user):
    user = make_user()
    account = MembershipFactory(user=user).account
    premise = PremiseFactory(account=account)
    point = SupplyPoint.objects.create(
        premise=premise, market="FR_PRM", identifier="12345678901234", subscribed_kva=9
    )
    meter = Meter.objects.create(
        supply_point=point, serial="M-0001", digits=6, installed_at=NOW - timedelta(days=800)
    )
    base = MeterRegister.objects.create(meter=meter, code="BASE")
    return type(
        "Home", (), {"user": user, "account": account, "point": point, "meter": meter, "base": base}
    )


def add_read(register, value, days_ago, *, source=ReadingSource.CUSTOMER, **kw):
    return Reading.objects.create(
        register=register,
        value=value,
        read_at=NOW - timedelta(days=days_ago),
        source=source,
        recorded_at=NOW - timedelta(days=days_ago),
        **kw,
    )


def url(point):
    return f"/portal/readings/{point.pk}/"


def post(client, point, **data):
    return client.post(url(point), {"read_on": TODAY, **data})


# --- Plausibility through the form ------------------------------------------


def test_plain_read_is_accepted(home, login):
    add_read(home.base, 12_000, 30)
    client = login(home.user)
    response = post(client, home.point, index_BASE="12300")
    assert response.status_code == 302
    reading = Reading.objects.get(value=12_300)
    assert (reading.status, reading.source, reading.quality) == ("ACCEPTED", "CUSTOMER", "VALID")
    assert reading.submitted_by == home.user
    page = client.get(url(home.point))
    assert "Relevé enregistré" in page.content.decode()
    assert "12300" in page.content.decode()


def test_rollover_is_accepted(home, login):
    home.meter.digits = 5
    home.meter.save()
    add_read(home.base, 99_950, 30)
    response = post(login(home.user), home.point, index_BASE="120")
    assert response.status_code == 302
    assert Reading.objects.get(value=120).status == ReadingStatus.ACCEPTED


def test_meter_exchange_explains_a_lower_index(home, login):
    add_read(home.base, 50_000, 40)
    home.meter.removed_at = NOW - timedelta(days=10)
    home.meter.save()
    new = Meter.objects.create(
        supply_point=home.point, serial="M-0002", installed_at=NOW - timedelta(days=10)
    )
    register = MeterRegister.objects.create(meter=new, code="BASE")
    response = post(login(home.user), home.point, index_BASE="150")
    assert response.status_code == 302
    assert Reading.objects.get(value=150).register == register


def test_lower_than_previous_asks_for_confirmation_and_writes_nothing(home, login):
    add_read(home.base, 12_000, 30)
    response = post(login(home.user), home.point, index_BASE="11000")
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "inférieur au dernier relevé (12000 kWh)" in errors["index_BASE"][0]
    assert "cochez la confirmation" in errors["index_BASE"][0]
    assert 'name="confirm"' in response.content.decode()
    assert Reading.objects.count() == 1


def test_confirmed_implausible_read_is_stored_for_review_with_a_ticket(home, login):
    add_read(home.base, 12_000, 30)
    client = login(home.user)
    response = post(client, home.point, index_BASE="11000", confirm="on", photo=upload(jpeg()))
    assert response.status_code == 302
    reading = Reading.objects.get(value=11_000)
    assert reading.status == ReadingStatus.NEEDS_REVIEW
    assert reading.review_reason == "lower_than_previous"
    assert reading.source == ReadingSource.CUSTOMER_PHOTO
    assert reading.photo is not None
    ticket = reading.ticket
    assert (ticket.category, ticket.queue, ticket.channel) == (
        "METER_READING",
        "METERING",
        "PORTAL",
    )
    assert ticket.supply_point == home.point and ticket.requester == home.user
    assert ticket.clocks.exists()  # SLA clocks from the policy
    assert ticket.reference in client.get(url(home.point)).content.decode()


def test_confirmation_without_photo_is_a_field_error(home, login):
    add_read(home.base, 12_000, 30)
    response = post(login(home.user), home.point, index_BASE="11000", confirm="on")
    assert response.status_code == 400
    assert "Joignez une photo" in response.context["form"].errors["photo"][0]
    assert not Ticket.objects.exists()


def test_future_date_is_a_field_error(home, login):
    response = post(login(home.user), home.point, index_BASE="100", read_on="2026-06-20")
    assert response.status_code == 400
    assert "futur" in response.context["form"].errors["read_on"][0]
    assert not Reading.objects.exists()


def test_out_of_range_and_duplicate_are_rejected(home, login):
    client = login(home.user)
    response = post(client, home.point, index_BASE="1000000")
    assert "6 chiffres" in response.context["form"].errors["index_BASE"][0]
    add_read(home.base, 500, 0)
    response = post(client, home.point, index_BASE="500")
    assert "déjà été transmis" in response.context["form"].errors["index_BASE"][0]
    assert Reading.objects.count() == 1


def test_spike_needs_review(home, login):
    add_read(home.base, 1_000, 90)
    add_read(home.base, 1_600, 30)  # 10 kWh a day
    response = post(login(home.user), home.point, index_BASE="3500")  # 1900 in 30 days
    assert response.status_code == 400
    assert "1900 kWh" in response.context["form"].errors["index_BASE"][0]
    assert Reading.objects.count() == 2


def test_hp_hc_meter_asks_both_registers(home, login):
    home.base.delete()
    MeterRegister.objects.create(meter=home.meter, code="HP")
    MeterRegister.objects.create(meter=home.meter, code="HC")
    client = login(home.user)
    page = client.get(url(home.point)).content.decode()
    assert "Heures pleines" in page and "Heures creuses" in page and "index_BASE" not in page
    assert post(client, home.point, index_HP="100", index_HC="50").status_code == 302
    assert sorted(Reading.objects.values_list("register__code", "value")) == [
        ("HC", 50),
        ("HP", 100),
    ]


# --- Photos -------------------------------------------------------------------


def test_fake_image_is_rejected(home, login):
    client = login(home.user)
    fake = upload(b"MZ\x90\x00 this is not a photo", name="compteur.jpg")
    response = post(client, home.point, index_BASE="100", photo=fake)
    assert "JPEG ou PNG" in response.context["form"].errors["photo"][0]
    # JPEG magic bytes but no image behind them.
    corrupt = upload(b"\xff\xd8\xff\xe0" + b"\x00" * 200)
    response = post(client, home.point, index_BASE="100", photo=corrupt)
    assert "JPEG ou PNG" in response.context["form"].errors["photo"][0]
    assert not Reading.objects.exists() and not ReadingPhoto.objects.exists()


def test_photo_above_10_mb_is_rejected(home, login):
    big = upload(jpeg() + b"\x00" * (10 * 1024 * 1024))
    response = post(login(home.user), home.point, index_BASE="100", photo=big)
    assert response.status_code == 400
    assert "10 Mo" in response.context["form"].errors["photo"][0]
    assert not Reading.objects.exists()


def test_gps_is_stripped_and_date_taken_kept(home, login):
    original = jpeg(gps=True)
    assert Image.open(BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test file has GPS
    response = post(login(home.user), home.point, index_BASE="100", photo=upload(original))
    assert response.status_code == 302
    photo = Reading.objects.get().photo
    with photo.file.open("rb") as stored:
        content = stored.read()
    exif = Image.open(BytesIO(content)).getexif()
    assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD)
    assert exif.get_ifd(EXIF_IFD)[0x9003] == "2026:06:15 11:30:00"
    assert photo.taken_at == datetime(2026, 6, 15, 9, 30, tzinfo=UTC)  # Paris summer time
    assert photo.content_type == "image/jpeg" and len(photo.sha256) == 64


def test_png_photo_is_accepted(db):
    out = BytesIO()
    Image.new("RGB", (20, 20), "red").save(out, "PNG")
    clean = readings.photo_clean(upload(out.getvalue(), "c.png", "image/png"))
    assert clean.content_type == "image/png" and clean.taken_at is None


# --- Assessing ---------------------------------------------------------------


def test_actual_below_estimates_reestimates_them_and_asks_rebilling(
    home, django_capture_on_commit_callbacks
):
    add_read(home.base, 1_000, 90)
    est1 = add_read(home.base, 1_700, 60, source=ReadingSource.ESTIMATED, quality="ESTIMATED")
    est2 = add_read(home.base, 2_400, 30, source=ReadingSource.ESTIMATED, quality="ESTIMATED")
    calls = []
    hooks.rebill_requests.append(lambda *args: calls.append(args))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = readings.readings_submit(
                supply_point=home.point,
                account=home.account,
                values={"BASE": 1_900},
                read_at=NOW,
                submitted_by=home.user,
                now=NOW,
            )
    finally:
        hooks.rebill_requests.pop()
    est1.refresh_from_db()
    est2.refresh_from_db()
    assert est1.status == est2.status == ReadingStatus.SUPERSEDED
    assert [(r.value, r.quality) for r in result.reestimated] == [
        (1_300, ReadingQuality.EDITED),
        (1_600, ReadingQuality.EDITED),
    ]
    assert [r.read_at for r in result.reestimated] == [est1.read_at, est2.read_at]
    assert calls == [(home.point.pk, est1.read_at, NOW)]


def test_actual_above_estimates_changes_nothing(home, django_capture_on_commit_callbacks):
    add_read(home.base, 1_000, 90)
    add_read(home.base, 1_300, 30, source=ReadingSource.ESTIMATED, quality="ESTIMATED")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = readings.readings_submit(
            supply_point=home.point,
            account=home.account,
            values={"BASE": 1_500},
            read_at=NOW,
            submitted_by=None,
            now=NOW,
        )
    assert result.reestimated == [] and not callbacks
    assert not Reading.objects.filter(status=ReadingStatus.SUPERSEDED).exists()


# --- Who may submit ------------------------------------------------------------


def test_anonymous_goes_to_login(client, home):
    response = client.get(url(home.point))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_other_customers_supply_point_is_404(home, login, make_user):
    stranger = make_user()
    MembershipFactory(user=stranger)
    client = login(stranger)
    assert client.get(url(home.point)).status_code == 404
    assert post(client, home.point, index_BASE="100").status_code == 404
    assert not Reading.objects.exists()


def test_viewer_sees_but_cannot_submit(home, login, make_user):
    viewer = make_user()
    MembershipFactory(user=viewer, account=home.account, role=MemberRole.VIEWER)
    client = login(viewer)
    page = client.get(url(home.point))
    assert page.status_code == 200 and 'data-testid="reading-form"' not in page.content.decode()
    assert post(client, home.point, index_BASE="100").status_code == 403
    assert not Reading.objects.exists()


def test_index_redirects_to_the_only_supply_point(home, login):
    response = login(home.user).get("/portal/readings/")
    assert response.status_code == 302 and response["Location"] == url(home.point)
