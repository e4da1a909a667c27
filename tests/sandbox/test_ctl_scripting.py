"""The /sandbox/v1 scripting endpoint: validation, read-back, permissions, reset."""

from __future__ import annotations

from tests.sandbox.ctl_support import script, script_error


def test_it_rejects_bad_scripts_naming_the_field(sandbox):
    api = sandbox.api()

    cases = [
        ("behaviors", {"match": {"pd": "x"}}, "match.pd"),
        ("behaviors", {"exitCode": 300}, "exitCode"),
        ("behaviors", {"crashAfterSeconds": -1}, "crashAfterSeconds"),
        ("usage", {"cpu": "lots"}, "cpu"),
        ("custom-metrics", {"metric": "rps", "value": 1}, "namespace"),
        ("registry", {"images": "nginx"}, "images"),
        ("namespaces/default/services/web/load", {"rps": 3}, "rps"),
    ]
    for path, body, field in cases:
        status, error = script_error(api, "POST", path, body)
        assert status == 400, path
        assert error["field"] == field, (path, error)
        assert field in error["error"]


def test_it_reads_back_and_removes_scripted_rules(sandbox):
    api = sandbox.api()

    rule = script(
        api, "POST", "behaviors", {"match": {"namespace": "nowhere"}, "crashAfterSeconds": 2}
    )
    listed = script(api, "GET", "behaviors")["items"]
    whole = script(api, "GET", "script")

    assert {
        "id": rule["id"],
        "match": {"namespace": "nowhere"},
        "runSeconds": 2.0,
        "exitCode": 1,
    } in listed
    assert any(r["id"] == rule["id"] for r in whole["behaviors"])
    script(api, "DELETE", f"behaviors/{rule['id']}")
    assert all(r["id"] != rule["id"] for r in script(api, "GET", "behaviors")["items"])
    status, _ = script_error(api, "DELETE", f"behaviors/{rule['id']}")
    assert status == 404


def test_the_read_only_token_can_read_but_not_change_the_script(sandbox):
    readonly = sandbox.api(readonly=True) if _takes_readonly(sandbox) else _readonly_client(sandbox)

    assert "registry" in script(readonly, "GET", "script")
    status, body = script_error(readonly, "POST", "reset")
    assert status == 403
    assert body["reason"] == "Forbidden"


def test_reset_forgets_everything_scripted(fresh_sandbox):
    api = fresh_sandbox.api()
    script(api, "POST", "registry", {"images": ["nginx:*"]})
    script(api, "POST", "namespaces/default/services/web/load", {"requestsPerSecond": 5})

    script(api, "POST", "reset")

    whole = script(api, "GET", "script")
    assert whole["registry"]["allImagesExist"] is True
    assert whole["loads"] == []
    assert whole["behaviors"] == []


def _takes_readonly(sandbox):
    import inspect

    return "readonly" in inspect.signature(sandbox.api).parameters


def _readonly_client(sandbox):
    from kubernetes import config

    return config.new_client_from_config(str(sandbox.readonly_kubeconfig))
