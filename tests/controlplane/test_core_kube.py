"""The kube gateway without a cluster: error translation, the retry policy, client caching."""

import json

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from controlplane.kube import client, retry
from controlplane.kube.connection import ClusterConnection
from controlplane.kube.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Unavailable,
    translate,
)


def api_exception(status, reason="", message="boom", causes=None, headers=None):
    exc = ApiException(status=status, reason=reason)
    body = {"kind": "Status", "reason": reason, "message": message}
    if causes:
        body["details"] = {"causes": causes}
    exc.body = json.dumps(body).encode()
    exc.headers = headers or {}
    return exc


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (404, "NotFound", NotFound),
        (409, "AlreadyExists", AlreadyExists),
        (409, "Conflict", Conflict),
        (403, "Forbidden", Forbidden),
        (410, "Expired", Gone),
        (429, "TooManyRequests", Unavailable),
        (503, "ServiceUnavailable", Unavailable),
    ],
)
def test_it_translates_api_statuses_to_typed_errors(status, reason, kind):
    error = translate(api_exception(status, reason, message="the message"))
    assert type(error) is kind
    assert str(error) == "the message"


def test_it_keeps_field_causes_of_invalid_objects():
    cause = {"field": "spec.replicas", "reason": "FieldValueInvalid", "message": "must be >= 0"}
    error = translate(api_exception(422, "Invalid", causes=[cause]))
    assert isinstance(error, Invalid)
    assert error.causes == [cause]


def test_it_treats_connection_failures_as_unavailable():
    error = translate(urllib3.exceptions.NewConnectionError(None, "refused"))
    assert isinstance(error, Unavailable)


def test_it_reads_retry_after_from_429():
    error = translate(api_exception(429, "TooManyRequests", headers={"Retry-After": "2"}))
    assert error.retry_after == 2.0


@pytest.fixture
def fast_retries(settings):
    settings.KUBE_RETRY_ATTEMPTS = 3
    settings.KUBE_RETRY_BASE_DELAY = 0.001
    settings.KUBE_RETRY_MAX_DELAY = 0.01


def test_it_retries_transient_errors_then_succeeds(fast_retries):
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise api_exception(503, "ServiceUnavailable")
        return "ok"

    assert retry.call(flaky, what="test") == "ok"
    assert len(calls) == 3


def test_it_gives_up_after_the_attempt_limit(fast_retries):
    calls = []

    def down():
        calls.append(1)
        raise api_exception(500, "InternalError")

    with pytest.raises(Unavailable):
        retry.call(down, what="test")
    assert len(calls) == 3


def test_it_does_not_retry_non_idempotent_calls(fast_retries):
    calls = []

    def down():
        calls.append(1)
        raise api_exception(503)

    with pytest.raises(Unavailable):
        retry.call(down, what="test", retry=False)
    assert len(calls) == 1


def test_it_never_retries_permanent_errors(fast_retries):
    calls = []

    def missing():
        calls.append(1)
        raise api_exception(404, "NotFound")

    with pytest.raises(NotFound):
        retry.call(missing, what="test")
    assert len(calls) == 1


def test_it_rereads_and_reapplies_on_conflict(settings, fast_retries):
    settings.KUBE_CONFLICT_ATTEMPTS = 3
    versions = iter(["1", "2"])
    writes = []

    def read():
        return {"metadata": {"resourceVersion": next(versions)}}

    def write(obj):
        writes.append(obj["metadata"]["resourceVersion"])
        if len(writes) == 1:
            raise api_exception(409, "Conflict")
        return obj

    result = retry.update_with_conflict_retry(
        read=read, change=lambda obj: obj, write=write, what="thing"
    )
    assert writes == ["1", "2"]
    assert result["metadata"]["resourceVersion"] == "2"


def test_it_caches_clients_and_rebuilds_them_when_credentials_change():
    first = ClusterConnection(key="c1:aaa", server="https://127.0.0.1:1", token="t1")
    again = ClusterConnection(key="c1:aaa", server="https://127.0.0.1:1", token="t1")
    changed = ClusterConnection(key="c1:bbb", server="https://127.0.0.1:1", token="t2")
    try:
        assert client.api_client(first) is client.api_client(again)
        rebuilt = client.api_client(changed)
        assert rebuilt.configuration.api_key["authorization"] == "t2"
        assert rebuilt.configuration.retries is False
    finally:
        client.clear_clients()


def test_connections_never_show_credentials_in_their_repr():
    conn = ClusterConnection(key="k", server="https://x", token="very-secret-token")
    assert "very-secret-token" not in repr(conn)


def test_timeouts_come_from_settings(settings):
    settings.KUBE_CONNECT_TIMEOUT = 1.5
    settings.KUBE_READ_TIMEOUT = 7
    assert client.timeouts() == (1.5, 7)


def test_scale_sends_a_merge_patch_not_a_json_patch(monkeypatch):
    """A dict body sent as json-patch would be refused by a real API server."""
    from kubernetes.client.rest import RESTResponse

    from controlplane.kube import resources

    sent = {}

    class Response:
        status = 200
        reason = "OK"
        headers = {"content-type": "application/json"}
        data = b'{"spec": {"replicas": 3}}'

        def release_conn(self):
            pass

    def fake_request(self, method, url, headers=None, body=None, **kwargs):
        sent.update(method=method, url=url, headers=headers, body=body)
        return RESTResponse(Response())

    monkeypatch.setattr("kubernetes.client.rest.RESTClientObject.request", fake_request)
    conn = ClusterConnection(key="patch:1", server="https://127.0.0.1:1", token="t")
    try:
        result = resources.deployment_scale(conn, namespace="ml", name="web", replicas=3)
    finally:
        client.clear_clients()
    assert result == {"spec": {"replicas": 3}}
    assert sent["method"] == "PATCH"
    assert sent["url"].endswith("/apis/apps/v1/namespaces/ml/deployments/web/scale")
    assert sent["headers"]["Content-Type"] == "application/merge-patch+json"
    assert sent["body"] == {"spec": {"replicas": 3}}
