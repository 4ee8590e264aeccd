"""API skeleton: the OpenAPI schema, local docs, one error format."""

import pytest
from django.core.management import call_command

from accounts.models import Role


@pytest.mark.django_db
def test_openapi_schema_validates(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "openapi: 3." in text
    assert "/api/v1/users/me" in text


@pytest.mark.django_db
def test_schema_endpoint_serves_json(client, make_user, login):
    login(make_user(Role.CUSTOMER))
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Power Next API"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_docs_are_served_without_cdn(client, make_user, login, path):
    login(make_user(Role.CUSTOMER))
    page = client.get(path).content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    for marker in ["cdn.jsdelivr", "unpkg.com", "cdnjs"]:
        assert marker not in page


@pytest.mark.django_db
def test_me_requires_authentication_with_uniform_error(client):
    french = client.get("/api/v1/users/me")
    assert french.json()["error"]["message"] == "Informations d'authentification non fournies."
    response = client.get("/api/v1/users/me", HTTP_ACCEPT_LANGUAGE="en")
    # OAuth2 is the first authenticator, so the answer is a 401 with a challenge.
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {
        "error": {
            "status": 401,
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "fields": {},
        }
    }


@pytest.mark.django_db
def test_me_returns_the_session_user(client, make_user, login):
    user = make_user(Role.CUSTOMER, first_name="Zoé", last_name="Durand")
    login(user)
    body = client.get("/api/v1/users/me").json()
    assert body == {
        "email": user.email,
        "first_name": "Zoé",
        "last_name": "Durand",
        "role": "CUSTOMER",
        "preferred_language": "fr",
    }


@pytest.mark.django_db
def test_unknown_api_path_is_404(client, make_user, login):
    login(make_user(Role.CUSTOMER))
    assert client.get("/api/v1/nothing-here").status_code == 404


@pytest.mark.django_db
def test_method_not_allowed_uses_error_format(client, make_user, login):
    login(make_user(Role.CUSTOMER))
    response = client.post("/api/v1/users/me", {}, content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_validation_errors_are_flattened_per_field():
    from rest_framework import exceptions

    from powernext.api import exception_handler

    exc = exceptions.ValidationError(
        {
            "email": ["Enter a valid email address."],
            "address": {"postcode": ["Required."]},
            "lines": [{}, {"qty": ["Must be positive."]}],
        }
    )
    response = exception_handler(exc, {})
    assert response.status_code == 400
    assert response.data["error"]["code"] == "invalid"
    assert response.data["error"]["fields"] == {
        "email": ["Enter a valid email address."],
        "address.postcode": ["Required."],
        "lines[1].qty": ["Must be positive."],
    }
