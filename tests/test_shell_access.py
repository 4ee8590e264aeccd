"""Who may open which shell: anonymous, each role, with and without TOTP."""

import pytest

from accounts.domain import ShellDecision, shell_decision
from accounts.models import Role

SHELLS = ["/portal/", "/console/", "/supervisor/", "/field/"]

# Expected status for a verified user of each role on each shell.
MATRIX = {
    Role.CUSTOMER: {"/portal/": 200, "/console/": 403, "/supervisor/": 403, "/field/": 403},
    Role.AGENT: {"/portal/": 403, "/console/": 200, "/supervisor/": 403, "/field/": 403},
    Role.SUPERVISOR: {"/portal/": 403, "/console/": 200, "/supervisor/": 200, "/field/": 200},
    Role.FIELD_TECHNICIAN: {"/portal/": 403, "/console/": 403, "/supervisor/": 403, "/field/": 200},
    Role.ADMIN: {"/portal/": 403, "/console/": 200, "/supervisor/": 200, "/field/": 200},
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*SHELLS, "/admin/"])
def test_anonymous_is_redirected_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "next=" in response["Location"]


@pytest.mark.parametrize(
    ("role", "path", "expected"),
    [(role, path, code) for role, row in MATRIX.items() for path, code in row.items()],
)
def test_role_matrix(make_user, login, role, path, expected):
    user = make_user(role)
    response = login(user).get(path)
    assert response.status_code == expected
    if expected == 403:
        assert b"Acc\xc3\xa8s refus\xc3\xa9" in response.content


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.FIELD_TECHNICIAN, Role.ADMIN])
def test_staff_without_device_is_sent_to_enrolment(make_user, login, role):
    user = make_user(role)
    home = {
        "AGENT": "/console/",
        "SUPERVISOR": "/supervisor/",
        "FIELD_TECHNICIAN": "/field/",
        "ADMIN": "/console/",
    }[role]
    response = login(user, verified=False).get(home)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/otp/enrol/")


def test_staff_with_device_but_unverified_session_must_verify(make_user, login):
    user = make_user(Role.AGENT, totp=True)
    response = login(user, verified=False).get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/otp/verify/?next=%2Fconsole%2F")


def test_customer_without_device_needs_no_second_factor(make_user, login):
    response = login(make_user(Role.CUSTOMER), verified=False).get("/portal/")
    assert response.status_code == 200


def test_customer_who_enabled_totp_must_verify(make_user, login):
    user = make_user(Role.CUSTOMER, totp=True)
    response = login(user, verified=False).get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/otp/verify/")


def test_admin_site_requires_second_factor(make_user, login):
    admin = make_user(Role.ADMIN, is_staff=True, is_superuser=True)
    assert (
        login(admin, verified=False).get("/admin/")["Location"].startswith("/accounts/otp/enrol/")
    )


def test_admin_site_opens_for_verified_admin(make_user, login, client):
    admin = make_user(Role.ADMIN, is_staff=True, is_superuser=True)
    login(admin)
    assert client.get("/admin/").status_code == 200


def test_agent_cannot_open_admin(make_user, login):
    agent = make_user(Role.AGENT)
    assert login(agent).get("/admin/").status_code == 403


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"is_authenticated": False}, ShellDecision.LOGIN),
        ({"role": "CUSTOMER"}, ShellDecision.FORBID),
        ({"role": "CUSTOMER", "has_confirmed_device": False}, ShellDecision.FORBID),
        ({}, ShellDecision.ENROL),
        ({"has_confirmed_device": True}, ShellDecision.VERIFY),
        ({"is_verified": True}, ShellDecision.ALLOW),
        ({"is_staff_role": False}, ShellDecision.ALLOW),
        ({"is_staff_role": False, "has_confirmed_device": True}, ShellDecision.VERIFY),
    ],
)
def test_shell_decision(kwargs, expected):
    base = {
        "is_authenticated": True,
        "role": "AGENT",
        "allowed_roles": frozenset({"AGENT"}),
        "is_staff_role": True,
        "has_confirmed_device": False,
        "is_verified": False,
    }
    assert shell_decision(**{**base, **kwargs}) is expected
