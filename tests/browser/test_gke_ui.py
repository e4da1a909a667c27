"""GKE from the browser: an admin creates a cluster from the form and watches its operation
reach DONE and the cluster get registered in the operations section, without a reload (the
section is re-rendered only when the gke-actions stream says the action changed)."""

import pytest
from playwright.sync_api import expect

from controlplane.clusters.models import Cluster
from tests.controlplane.gke_support import PROJECT, ZONE, credential_for, gke_fixture  # noqa: F401

from .pages import log_in, screenshot, wait_until_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_admin_creates_a_cluster_and_follows_its_operation_live(page, make_user, gke):
    make_user("gke-ui-admin", superuser=True)
    credential_for(gke)
    log_in(page, "gke-ui-admin")
    page.goto(f"/gke/{PROJECT}/{ZONE}/")
    wait_until_live(page)
    page.click("text=Create a cluster")
    page.fill("input[name=name]", "from-the-ui")
    page.fill("input[name=node_count]", "2")
    page.click("main form [type=submit]")
    page.wait_for_url(f"**/gke/{PROJECT}/{ZONE}/")
    wait_until_live(page)
    section = page.locator("#gke-operations")
    expect(section).to_contain_text("create gke-cluster from-the-ui")
    expect(section.locator(".status-succeeded")).to_have_count(1, timeout=60_000)
    expect(section).to_contain_text("2/2 nodes")
    expect(section).to_contain_text("registered as from-the-ui")
    # The clusters table above follows too: the new cluster, running, linked to its overview.
    row = page.locator("#gke-clusters tr", has_text="from-the-ui")
    expect(row).to_contain_text("RUNNING")
    expect(row.locator("a[href='/c/from-the-ui/']")).to_have_count(1)
    screenshot(page, "gke-operations")
    assert Cluster.objects.filter(name="from-the-ui", source="gke").exists()
