"""Login with email and password, the second factor, enrolment and lockout."""

import re
from datetime import timedelta

import time_machine
from django.conf import settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role

from .factories import PASSWORD, totp_now


def post_login(client, email, password=PASSWORD, ip="203.0.113.7", next_url=""):
    data = {"username": email, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data, REMOTE_ADDR=ip)


def test_customer_logs_in_and_lands_on_portal(client, make_user):
    user = make_user(Role.CUSTOMER)
    response = post_login(client, user.email)
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0] == "/portal/"
    assert response.status_code == 200


def test_login_is_case_insensitive_on_email(client, make_user):
    user = make_user(Role.CUSTOMER, email="marie.curie@example.fr")
    assert post_login(client, "Marie.Curie@Example.FR").status_code == 302
    assert client.get("/portal/").wsgi_request.user == user


def test_wrong_password_shows_a_clear_error(client, make_user):
    user = make_user(Role.CUSTOMER)
    response = post_login(client, user.email, password="nope-nope-nope")
    assert response.status_code == 200
    assert "Adresse e-mail ou mot de passe incorrect." in response.content.decode()


def test_login_form_reports_missing_fields(client, db):
    response = client.post("/accounts/login/", {"username": "", "password": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"username", "password"}


def test_agent_logs_in_with_totp_and_reaches_console(client, make_user):
    agent = make_user(Role.AGENT, totp=True)
    response = post_login(client, agent.email, next_url="/console/")
    assert response["Location"] == "/console/"
    response = client.get("/console/")
    assert response["Location"].startswith("/accounts/otp/verify/")

    with time_machine.travel("2026-10-25 00:59:50+00:00", tick=False) as traveller:
        bad = client.post(response["Location"], {"token": "000000"})
        assert bad.status_code == 200
        assert "token" in bad.context["form"].errors
        # django-otp throttles after a failure; wait it out (across the
        # autumn DST change in Paris, 03:00 -> 02:00 local).
        traveller.shift(timedelta(seconds=20))
        device = TOTPDevice.objects.get(user=agent)
        ok = client.post("/accounts/otp/verify/", {"token": totp_now(device), "next": "/console/"})
        assert ok["Location"] == "/console/"
        assert client.get("/console/").status_code == 200


def test_verify_refuses_open_redirect(client, make_user):
    agent = make_user(Role.AGENT, totp=True)
    client.force_login(agent)
    device = TOTPDevice.objects.get(user=agent)
    response = client.post(
        "/accounts/otp/verify/", {"token": totp_now(device), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/accounts/landing/"


def test_staff_enrolment_shows_qr_and_backup_codes(client, make_user):
    agent = make_user(Role.AGENT)
    post_login(client, agent.email)
    response = client.get("/console/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/otp/enrol/")
    page = response.content.decode()
    assert "<svg" in page and 'data-testid="totp-secret"' in page

    pending = TOTPDevice.objects.get(user=agent, confirmed=False)
    with time_machine.travel("2026-06-01 08:00:00+00:00", tick=False) as traveller:
        wrong = client.post("/accounts/otp/enrol/", {"token": "123456", "next": "/console/"})
        assert "token" in wrong.context["form"].errors
        assert not TOTPDevice.objects.filter(user=agent, confirmed=True).exists()
        traveller.shift(timedelta(seconds=20))
        pending.refresh_from_db()
        done = client.post(
            "/accounts/otp/enrol/", {"token": totp_now(pending), "next": "/console/"}
        )
        assert done.status_code == 200
        codes = done.context["codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert all(re.fullmatch(r"[a-z0-9]{8}", c) for c in codes)
        assert TOTPDevice.objects.get(user=agent).confirmed
        assert StaticToken.objects.filter(device__user=agent).count() == 10
        assert client.get("/console/").status_code == 200


def test_backup_code_works_once(client, make_user):
    agent = make_user(Role.AGENT)
    client.force_login(agent)
    client.get("/accounts/otp/enrol/")
    pending = TOTPDevice.objects.get(user=agent, confirmed=False)
    codes = client.post("/accounts/otp/enrol/", {"token": totp_now(pending)}).context["codes"]

    client.logout()
    client.force_login(agent)
    assert client.post("/accounts/otp/verify/", {"token": codes[0]}).status_code == 302
    assert client.get("/console/").status_code == 200

    client.logout()
    client.force_login(agent)
    reused = client.post("/accounts/otp/verify/", {"token": codes[0]})
    assert reused.status_code == 200
    assert "token" in reused.context["form"].errors


def test_password_alone_cannot_add_a_second_device(client, make_user):
    """Someone with a stolen password must not be able to enrol their own phone."""
    agent = make_user(Role.AGENT, totp=True)
    client.force_login(agent)
    response = client.get("/accounts/otp/enrol/")
    assert response["Location"].startswith("/accounts/otp/verify/")
    assert not TOTPDevice.objects.filter(user=agent, confirmed=False).exists()
    client.post("/accounts/otp/enrol/", {"token": "123456"})
    assert TOTPDevice.objects.filter(user=agent).count() == 1


def test_customer_may_enable_totp_from_security_page(client, make_user, login):
    customer = make_user(Role.CUSTOMER)
    login(customer)
    page = client.get("/portal/security/")
    assert "Activer maintenant" in page.content.decode()
    client.get("/accounts/otp/enrol/")
    pending = TOTPDevice.objects.get(user=customer, confirmed=False)
    client.post("/accounts/otp/enrol/", {"token": totp_now(pending)})
    assert "Activée" in client.get("/portal/security/").content.decode()


class TestLockout:
    def test_locks_after_configured_failures(self, client, make_user):
        user = make_user(Role.CUSTOMER)
        limit = settings.AXES_FAILURE_LIMIT
        for _ in range(limit - 1):
            assert post_login(client, user.email, "wrong-password-x").status_code == 200
        locked = post_login(client, user.email, "wrong-password-x")
        assert locked.status_code == 429
        assert "temporairement bloquée" in locked.content.decode()
        # Even the right password is refused while locked.
        assert post_login(client, user.email).status_code == 429

    def test_lock_is_per_username_and_ip(self, client, make_user):
        victim = make_user(Role.CUSTOMER)
        neighbour = make_user(Role.CUSTOMER)
        for _ in range(settings.AXES_FAILURE_LIMIT):
            post_login(client, victim.email, "wrong-password-x", ip="198.51.100.1")
        assert post_login(client, victim.email, ip="198.51.100.1").status_code == 429
        # Someone else behind the same NAT address still logs in.
        assert post_login(client, neighbour.email, ip="198.51.100.1").status_code == 302
        client.logout()
        # The victim, from their own address, is not locked out by the attacker.
        assert post_login(client, victim.email, ip="192.0.2.50").status_code == 302

    def test_lock_expires_after_cool_off(self, client, make_user):
        user = make_user(Role.CUSTOMER)
        with time_machine.travel("2026-03-29 00:30:00+00:00", tick=False) as traveller:
            for _ in range(settings.AXES_FAILURE_LIMIT):
                post_login(client, user.email, "wrong-password-x")
            assert post_login(client, user.email).status_code == 429
            # Across the spring DST change in Paris (02:00 -> 03:00 local).
            traveller.shift(settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
            assert post_login(client, user.email).status_code == 429
            traveller.shift(timedelta(seconds=10))
            assert post_login(client, user.email).status_code == 302
