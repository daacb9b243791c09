"""docker-compose.yml and the Dockerfile stay consistent (no Docker engine runs here to try them)."""

import re

import yaml

from tests.conftest import repo_root


def test_compose_services_images_healthcheck_and_required_secrets():
    text = (repo_root() / "docker-compose.yml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"db", "migrate", "worker", "dashboard"}
    assert services["db"]["image"].startswith("timescale/timescaledb-ha:pg17")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in ("migrate", "worker", "dashboard"):
        assert services[name]["build"] == "."  # one image from the one Dockerfile
    for variable in ("POSTGRES_PASSWORD", "CREDENTIAL_ENCRYPTION_KEYS", "LOGLYTICS_ADMIN_PASSWORD"):
        assert re.search(r"\$\{" + variable + r":\?", text), variable
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["dashboard"]["ports"] == ["8501:8501"]


def test_dockerfile_installs_the_pinned_requirements_and_runs_unprivileged():
    dockerfile = (repo_root() / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert "USER loglytics" in dockerfile
