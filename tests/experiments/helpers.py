"""Shared by the experiments tests: two model deployments with Services, bodies, waiting."""

from __future__ import annotations

import json

from tests.fixtures.controlplane import kubectl_json, make_deployment, wait_for


def base(namespace: str, name: str | None = None) -> str:
    path = f"/api/v1/clusters/sandbox/namespaces/{namespace}/experiments/"
    return f"{path}{name}/" if name else path


def make_service(sandbox, namespace, tmp_path, name: str, app: str, port: int = 80) -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"app": app},
            "ports": [{"port": port, "targetPort": 8080}],
        },
    }
    path = tmp_path / f"svc-{name}.json"
    path.write_text(json.dumps(manifest))
    result = sandbox.kubectl("create", "-f", str(path))
    assert result.returncode == 0, result.stderr


def make_variants(sandbox, namespace, tmp_path, names=("model-a", "model-b")) -> None:
    for name in names:
        make_deployment(sandbox, namespace, tmp_path, name=name)
        make_service(sandbox, namespace, tmp_path, name, app=name)


def body(name="ab", routing="weighted", weights=(50, 50), **extra) -> dict:
    return {
        "name": name,
        "hypothesis": "model B converts better",
        "routing": routing,
        "primary_metric": "conversion",
        "variants": [
            {
                "name": "a",
                "deployment": "model-a",
                "service": "model-a",
                "weight": weights[0],
                "control": True,
            },
            {"name": "b", "deployment": "model-b", "service": "model-b", "weight": weights[1]},
        ],
        **extra,
    }


def action(api, url) -> dict:
    response = api.get(url)
    assert response.status_code == 200, response.content
    return response.json()


def finished(api, response, status="succeeded", timeout=30) -> dict:
    assert response.status_code == 202, response.content
    done = wait_for(
        lambda: (
            (b := action(api, response["Location"]))["status"]
            in ("succeeded", "failed", "superseded")
            and b
        ),
        timeout=timeout,
        what=f"action {response['Location']} to finish",
    )
    assert done["status"] == status, done
    return done


def create_and_start(api, namespace, **kwargs) -> dict:
    payload = body(**kwargs)
    finished(api, api.post(base(namespace), payload, format="json"))
    return finished(api, api.post(f"{base(namespace, payload['name'])}start/"))


def route(sandbox, namespace, kind, name="ab") -> dict:
    return kubectl_json(sandbox, "-n", namespace, "get", kind, name)
