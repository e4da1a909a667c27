"""Single sign-on in Chromium: the login page's button, the provider's own login form (a real
node-oidc-provider), and back, signed in with the roles the groups give."""

import sys

import pytest
from playwright.sync_api import expect

from controlplane.accounts.models import GroupMapping, RoleGrant
from controlplane.audit.models import AuditEvent
from controlplane.clusters.models import Cluster
from sandbox.testing import free_port
from tests.fixtures.controlplane import wait_for
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

from .conftest import Service
from .pages import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sso_stack(subprocess_env, tmp_path):
    """A provider and a daphne configured to use it (the shared stack has no SSO settings)."""
    import urllib.request

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    provider = OidcProvider(
        port=free_port(),
        redirect_uris=[f"{base_url}/accounts/sso/callback/"],
        post_logout_redirect_uris=[f"{base_url}/accounts/login/"],
        workdir=tmp_path,
    )
    provider.set_account("dana", groups=["ml-engineers"])
    provider.start()
    env = {
        **subprocess_env,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_PROVIDER_NAME": "Test IdP",
    }
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    web = Service("daphne-sso", [*command, "controlplane.asgi:application"], env, tmp_path)

    def serving():
        assert web.alive(), web.log()
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(serving, timeout=60, what="daphne to serve")
        yield base_url, web
    finally:
        web.stop()
        provider.stop()


def test_a_person_signs_in_with_the_provider_and_gets_the_mapped_role(browser, sso_stack):
    base_url, web = sso_stack
    cluster = Cluster.objects.create(
        name="offline", server="https://127.0.0.1:1", source="kubeconfig"
    )
    GroupMapping.objects.create(group="ml-engineers", cluster=cluster, role="operator")
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/accounts/login/?next=/accounts/token/")
        screenshot(page, "login-sso")
        page.get_by_role("link", name="Sign in with Test IdP").click()
        page.fill("input[name=login]", "dana")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base_url}/accounts/token/")
        expect(page.locator(".user")).to_have_text("dana")
        screenshot(page, "signed-in-with-sso")
    finally:
        context.close()
    grant = RoleGrant.objects.get(user__username="dana")
    assert (grant.cluster, grant.role, grant.source) == (cluster, "operator", "group")
    login = AuditEvent.objects.get(kind="user", verb="login", status="succeeded")
    assert login.actor_name == "dana"
    # The code came in the callback's query string: the web server's log must not show it.
    assert "code=" not in web.log_path.read_text(errors="replace")


def test_logging_out_ends_the_session_at_the_provider_too(browser, sso_stack):
    base_url, _web = sso_stack
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        page.goto("/accounts/login/?next=/accounts/token/")
        page.get_by_role("link", name="Sign in with Test IdP").click()
        page.fill("input[name=login]", "dana")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base_url}/accounts/token/")

        # The logout form's answer is a page of this site; the browser moves on from it to
        # the provider (the Content-Security-Policy would stop a cross-site form redirect).
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(f"{base_url}/accounts/login/")
        screenshot(page, "logged-out-of-sso")

        # The provider's session is gone too: signing in asks for the login form again.
        page.get_by_role("link", name="Sign in with Test IdP").click()
        expect(page.locator("input[name=login]")).to_be_visible()
    finally:
        context.close()
    # One sign-in only: the second attempt stopped at the provider's login form.
    sign_ins = AuditEvent.objects.filter(kind="user", verb="login", status="succeeded")
    assert sign_ins.count() == 1
