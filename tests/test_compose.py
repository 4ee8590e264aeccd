"""docker-compose.yml cannot run here (no Docker engine); check its structure instead."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def load():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_stack_with_healthchecks_and_restarts():
    services = load()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ["postgres", "redis", "web", "worker", "beat"]:
        assert "healthcheck" in services[name], name
        assert services[name]["restart"] in {"unless-stopped", "always"}, name
    for name in ["web", "worker", "beat"]:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
    assert (
        "gunicorn" in " ".join(services["web"].get("command") or [])
        or "gunicorn" in (ROOT / "Dockerfile").read_text()
    )
    assert "worker" in " ".join(services["worker"]["command"])
    assert "beat" in " ".join(services["beat"]["command"])


def test_compose_keeps_media_in_a_volume():
    compose = load()
    assert "media" in compose["volumes"]
    assert any("/app/media" in v for v in compose["services"]["web"]["volumes"])
