"""The command palette's search (/c/<cluster>/search/?q=): the watcher's cache only, filtered
by the namespaces the user may view, at most 20 matches, best first; and the base template
that loads the palette on every page of a cluster."""

import pytest

from controlplane.live.cache import live_cache

pytestmark = pytest.mark.django_db


def deployment(namespace: str, name: str, *, replicas: int = 2, ready: int = 1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": namespace, "name": name, "uid": f"{namespace}-{name}"},
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready},
    }


@pytest.fixture
def cached(offline_cluster):
    """Put deployments in the watcher's cache of the offline cluster (which nothing can
    reach: every answer has to come from the cache)."""
    cache = live_cache()

    def put(objects: list[dict]) -> None:
        cache.replace(offline_cluster.name, "deployments", objects, "7")
        cache.heartbeat(60, {"host": "test", "pid": 0})

    yield put
    cache.forget(offline_cluster.name, "deployments")
    cache.client.delete(cache.heartbeat_key)


def search(client, cluster, text: str):
    return client.get(f"/c/{cluster.name}/search/", {"q": text})


def test_it_finds_deployments_by_part_of_their_name_best_match_first(
    client, make_user, offline_cluster, cached
):
    cached(
        [
            deployment("ml", "fraud-scorer"),
            deployment("ml", "scorer"),
            deployment("serving", "scorer-canary"),
            deployment("serving", "ranker"),
        ]
    )
    client.force_login(make_user(role="viewer", cluster=offline_cluster))
    response = search(client, offline_cluster, "Scorer")
    assert response.status_code == 200
    body = response.json()
    assert [(r["namespace"], r["name"]) for r in body["results"]] == [
        ("ml", "scorer"),  # exact
        ("serving", "scorer-canary"),  # prefix
        ("ml", "fraud-scorer"),  # contains
    ]
    assert body["source"] == "cache"
    first = body["results"][0]
    assert first["url"] == f"/c/{offline_cluster.name}/ns/ml/deployments/scorer/"
    assert (first["ready"], first["desired"]) == (1, 2)
    # namespace/name narrows to one namespace.
    body = search(client, offline_cluster, "serving/r").json()
    assert [r["name"] for r in body["results"]] == ["ranker"]


def test_it_answers_at_most_twenty_and_says_how_many_matched(
    client, make_user, offline_cluster, cached
):
    cached([deployment("ml", f"model-{i:02d}") for i in range(45)])
    client.force_login(make_user(role="viewer", cluster=offline_cluster))
    body = search(client, offline_cluster, "model").json()
    assert len(body["results"]) == 20
    assert body["total"] == 45
    assert body["results"][0]["name"] == "model-00"


def test_a_narrowed_grant_finds_only_its_namespaces(client, make_user, offline_cluster, cached):
    cached([deployment("ml", "scorer"), deployment("secret-team", "scorer")])
    client.force_login(make_user(role="operator", cluster=offline_cluster, namespaces=["ml"]))
    body = search(client, offline_cluster, "scorer").json()
    assert [r["namespace"] for r in body["results"]] == ["ml"]
    assert body["total"] == 1


def test_users_without_a_role_on_the_cluster_get_404(client, make_user, offline_cluster, cached):
    cached([deployment("ml", "scorer")])
    client.force_login(make_user())
    assert search(client, offline_cluster, "scorer").status_code == 404
    client.logout()
    # Signed out: the login page, never the names.
    response = search(client, offline_cluster, "scorer")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_without_a_synced_watcher_it_says_so_instead_of_asking_the_cluster(
    client, make_user, offline_cluster
):
    client.force_login(make_user(role="viewer", cluster=offline_cluster))
    response = search(client, offline_cluster, "scorer")
    assert response.status_code == 503
    body = response.json()
    assert body["results"] == []
    assert body["source"] == "unavailable"
    assert "watcher" in body["note"]


def test_an_overlong_query_is_a_400_naming_the_field(client, make_user, offline_cluster, cached):
    cached([])
    client.force_login(make_user(role="viewer", cluster=offline_cluster))
    response = search(client, offline_cluster, "x" * 300)
    assert response.status_code == 400
    assert "q" in response.json()["errors"]


def test_every_page_of_a_cluster_loads_the_palette(client, make_user, offline_cluster, cached):
    cached([])
    client.force_login(make_user(role="viewer", cluster=offline_cluster))
    html = client.get(f"/c/{offline_cluster.name}/").content.decode()
    assert "js/palette.js" in html
    assert f'data-search-url="/c/{offline_cluster.name}/search/"' in html
    client.logout()
    html = client.get("/accounts/login/").content.decode()
    assert 'id="palette-root"' not in html
