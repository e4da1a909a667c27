"""The compose stack, the images and the in-cluster manifests, checked statically.

No Docker engine runs here, so these read the files the way compose and the kubelet would and
assert the properties that matter: the right processes, no committed secrets, non-root images.
"""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONTROL_PLANE_PROCESSES = {"web", "worker", "beat", "watcher"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    text = path.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_compose_runs_every_process_of_the_stack():
    services = _compose()["services"]
    assert CONTROL_PLANE_PROCESSES | {"redis", "postgres"} <= set(services)
    for name in CONTROL_PLANE_PROCESSES:
        assert services[name]["image"] == "ml-controlplane:latest", name
        assert services[name]["environment"]["DEBUG"] == "0", name


def test_compose_dependencies_name_services_that_exist():
    services = _compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_compose_takes_secrets_from_the_environment_and_refuses_to_start_without_them():
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in ("SECRET_KEY", "CREDENTIALS_KEY", "POSTGRES_PASSWORD"):
        assert re.search(r"\$\{" + variable + r":\?", text), variable
    environment = _compose()["services"]["web"]["environment"]
    assert environment["SECRET_KEY"].startswith("${")


def test_the_control_plane_image_runs_as_a_non_root_user():
    instructions = _dockerfile_instructions(ROOT / "Dockerfile")
    users = [value for keyword, value in instructions if keyword == "USER"]
    assert users, "the image must switch to a non-root user"
    assert users[-1] not in {"root", "0"}
    assert ("EXPOSE", "8000") in instructions
    assert any(keyword == "HEALTHCHECK" and "/healthz" in value for keyword, value in instructions)


def test_every_file_the_control_plane_image_copies_exists():
    for keyword, value in _dockerfile_instructions(ROOT / "Dockerfile"):
        if keyword == "COPY":
            *sources, _destination = value.split()
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def _manifests() -> list[dict]:
    documents = []
    for path in sorted((ROOT / "deploy").glob("*.yaml")):
        documents.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return documents


def test_the_cluster_role_is_least_privilege():
    (role,) = [doc for doc in _manifests() if doc["kind"] == "ClusterRole"]
    for rule in role["rules"]:
        assert "*" not in rule["verbs"], rule
        assert "*" not in rule["resources"], rule
        assert "secrets" not in rule["resources"], "the control plane never needs secrets"
        assert not {"pods/exec", "pods/attach"} & set(rule["resources"]), rule
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"], rule


def test_the_manifests_commit_no_secret_values():
    kinds = {doc["kind"] for doc in _manifests()}
    assert "Secret" not in kinds, "secret values are created by the operator, never committed"
    for doc in _manifests():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert "env" not in container or all(
                    "value" not in item or "KEY" not in item["name"] for item in container["env"]
                )
