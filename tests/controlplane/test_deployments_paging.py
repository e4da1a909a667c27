"""The deployments list at size: pages of rows (filtered and sorted over all of them first),
one row re-rendered alone for a live change, partial routes that no deployment name can
shadow, and the API's filters and limit/offset. Everything is read from the watcher's cache
of a cluster nothing can reach, so every answer has to come from the cache."""

import re

import pytest

from controlplane.kube.watch import KINDS
from controlplane.live.cache import live_cache

pytestmark = pytest.mark.django_db

NS = "ml"


def deployment(name: str, *, replicas: int = 2, ready: int = 2, labels=None) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "namespace": NS,
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": f"{len(name)}{replicas}{ready}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": name, **(labels or {})},
        },
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"containers": [{"name": "s", "image": f"reg/{name}:1"}]}},
        },
        "status": {"readyReplicas": ready, "replicas": replicas},
    }


@pytest.fixture
def cached(offline_cluster):
    """Every watched kind of the offline cluster cached (empty unless given)."""
    cache = live_cache()

    def put(kind: str, objects: list[dict]) -> None:
        cache.replace(offline_cluster.name, kind, objects, "7")

    for kind in KINDS:
        put(kind, [])
    cache.heartbeat(60, {"host": "test", "pid": 0})
    yield put
    for kind in KINDS:
        cache.forget(offline_cluster.name, kind)
    cache.client.delete(cache.heartbeat_key)


@pytest.fixture
def browser(client, make_user, offline_cluster):
    client.force_login(make_user(role="operator", cluster=offline_cluster))
    return client


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="deployment-[^"]*" data-deployment="([^"]+)"', html)


LIST = f"/c/offline/ns/{NS}/deployments/"


def test_a_long_list_is_shown_a_page_at_a_time_with_links_to_the_others(cached, browser):
    cached("deployments", [deployment(f"model-{i:03d}") for i in range(120)])
    html = browser.get(LIST).content.decode()
    assert rows(html) == [f"model-{i:03d}" for i in range(50)]
    assert "1\N{EN DASH}50 of 120 deployments, page 1 of 3" in html
    assert 'href="?page=2" rel="next"' in html
    assert 'href="?page=3" rel="last"' in html
    last = browser.get(LIST, {"page": "3"}).content.decode()
    assert rows(last) == [f"model-{i:03d}" for i in range(100, 120)]
    assert 'href="?page=2" rel="prev"' in last
    assert 'rel="next"' not in last
    # Beyond the last page is the last page; nonsense is the first.
    assert rows(browser.get(LIST, {"page": "99"}).content.decode()) == rows(last)
    assert rows(browser.get(LIST, {"page": "two"}).content.decode())[0] == "model-000"


def test_filters_and_sorting_apply_to_every_deployment_before_paging(cached, browser):
    cached("deployments", [deployment(f"model-{i:03d}", ready=i % 3) for i in range(120)])
    html = browser.get(LIST, {"q": "model-1", "sort": "-name"}).content.decode()
    assert rows(html)[0] == "model-119"
    assert "1\N{EN DASH}20 of 20 deployments" in html  # model-100 .. model-119
    page2 = browser.get(LIST, {"sort": "name", "page": "2"}).content.decode()
    assert rows(page2)[0] == "model-050"
    # Sorting links go back to the first page and keep the filter; paging links keep both.
    filtered = browser.get(LIST, {"q": "model-0"}).content.decode()
    assert 'href="?q=model-0&amp;sort=-name"' not in filtered
    assert 'href="?q=model-0&amp;sort=name"' in filtered
    assert 'href="?q=model-0&amp;page=2" rel="next"' in filtered
    # The live refresh and the scale form carry the page along.
    assert f'hx-get="{LIST}_table/?sort=name&amp;page=2"' in page2


def test_rows_refresh_alone_only_while_no_filter_or_status_order_can_move_them(cached, browser):
    cached("deployments", [deployment("api")])
    assert "data-live-rows-stable" in browser.get(LIST).content.decode()
    assert "data-live-rows-stable" in browser.get(LIST, {"sort": "-age"}).content.decode()
    assert "data-live-rows-stable" not in browser.get(LIST, {"sort": "ready"}).content.decode()
    assert "data-live-rows-stable" not in browser.get(LIST, {"q": "a"}).content.decode()


def test_one_row_is_rendered_alone_for_a_live_change(cached, browser):
    cached("deployments", [deployment(f"model-{i:03d}") for i in range(60)])
    html = browser.get(LIST).content.decode()
    assert 'data-live-key="ml/model-001"' in html
    assert f'hx-get="{LIST}_row/model-001/"' in html
    cached("deployments", [deployment("model-001", replicas=5, ready=3)])
    row = browser.get(f"{LIST}_row/model-001/", {"page": "2"}).content.decode()
    assert row.strip().startswith("<tr")
    assert rows(row) == ["model-001"]
    assert "3/5" in row
    assert 'value="5"' in row
    # The scale form inside it keeps the page the row is on.
    assert f'hx-post="{LIST}model-001/scale/?page=2"' in row
    # A deployment that is gone leaves an empty answer: the row disappears.
    gone = browser.get(f"{LIST}_row/model-002/")
    assert gone.status_code == 200
    assert gone.content == b""


def test_a_deployment_named_table_opens_its_own_page(cached, browser):
    cached("deployments", [deployment("table"), deployment("other")])
    page = browser.get(f"{LIST}table/")
    assert page.status_code == 200
    assert "deployments/_table.html" not in [t.name for t in page.templates]
    assert "deployments/detail.html" in [t.name for t in page.templates]
    table = browser.get(f"{LIST}_table/")
    assert rows(table.content.decode()) == ["other", "table"]


def test_the_api_filters_sorts_and_pages_with_the_total_in_a_header(
    cached, api_client_for, make_user, offline_cluster
):
    cached("deployments", [deployment(f"model-{i:03d}") for i in range(30)])
    api = api_client_for(make_user(role="viewer", cluster=offline_cluster))
    url = f"/api/v1/clusters/offline/namespaces/{NS}/deployments/"
    whole = api.get(url)
    assert whole.status_code == 200
    assert [d["name"] for d in whole.json()] == [f"model-{i:03d}" for i in range(30)]
    assert set(whole.json()[0]) == {
        "name", "namespace", "labels", "annotations", "created", "resource_version",
        "generation", "replicas", "images", "status",
    }  # fmt: skip
    assert whole["X-Total-Count"] == "30"
    page = api.get(url, {"limit": "10", "offset": "10", "sort": "-name"})
    assert [d["name"] for d in page.json()] == [f"model-{i:03d}" for i in range(19, 9, -1)]
    assert page["X-Total-Count"] == "30"
    assert '?limit=10&offset=20&sort=-name>; rel="next"' in page["Link"]
    assert 'rel="prev"' in page["Link"]
    found = api.get(url, {"q": "model-02", "labels": "app"})
    assert [d["name"] for d in found.json()] == [f"model-02{i}" for i in range(10)]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"limit": "5", "offset": "-1"}, "offset"),
        ({"labels": "bad key=1"}, "labels"),
    ],
)
def test_the_api_refuses_bad_list_parameters_naming_them(
    cached, api_client_for, make_user, offline_cluster, query, field
):
    api = api_client_for(make_user(role="viewer", cluster=offline_cluster))
    response = api.get(f"/api/v1/clusters/offline/namespaces/{NS}/deployments/", query)
    assert response.status_code == 400
    assert field in response.json()


def test_a_rows_links_are_its_deployments_routes(cached, browser, offline_cluster):
    from django.urls import reverse

    cached("deployments", [deployment("api")])
    cached(
        "horizontalpodautoscalers",
        [
            {
                "metadata": {"namespace": NS, "name": "api", "resourceVersion": "3"},
                "spec": {
                    "scaleTargetRef": {"kind": "Deployment", "name": "api"},
                    "minReplicas": 1,
                    "maxReplicas": 4,
                },
            }
        ],
    )
    row = browser.get(f"{LIST}_row/api/").content.decode()
    names = {"cluster": "offline", "namespace": NS, "name": "api"}
    for route in ("detail", "scale", "autoscaler", "row"):
        assert f'"{reverse(f"deployments:{route}", kwargs=names)}' in row, route
    assert "managed by an autoscaler (min 1, max 4" in row


def test_the_api_checks_the_role_before_it_judges_the_query(
    cached, api_client_for, make_user, offline_cluster
):
    elsewhere = make_user(role="viewer", cluster=offline_cluster, namespaces=["other"])
    response = api_client_for(elsewhere).get(
        f"/api/v1/clusters/offline/namespaces/{NS}/deployments/", {"sort": "colour"}
    )
    assert response.status_code == 403


def test_the_all_namespaces_api_lists_what_the_grant_covers(
    cached, api_client_for, make_user, offline_cluster
):
    other = {**deployment("b-other"), "metadata": {**deployment("b-other")["metadata"]}}
    other["metadata"]["namespace"] = "other"
    cached("deployments", [deployment("a-ml"), deployment("c-ml"), other])
    url = "/api/v1/clusters/offline/deployments/"
    everyone = api_client_for(make_user(role="viewer", cluster=offline_cluster)).get(url)
    assert [(d["namespace"], d["name"]) for d in everyone.json()] == [
        ("ml", "a-ml"),
        ("ml", "c-ml"),
        ("other", "b-other"),
    ]
    narrowed = make_user(role="viewer", cluster=offline_cluster, namespaces=["other"])
    mine = api_client_for(narrowed).get(url, {"sort": "-name"})
    assert [d["name"] for d in mine.json()] == ["b-other"]
    assert mine["X-Total-Count"] == "1"
    paged = api_client_for(make_user(role="viewer", cluster=offline_cluster)).get(
        url, {"limit": "1", "sort": "-name"}
    )
    assert [d["name"] for d in paged.json()] == ["c-ml"]
    assert paged["X-Total-Count"] == "3"
    stranger = api_client_for(make_user()).get(url)
    assert stranger.status_code == 404
