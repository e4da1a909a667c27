"""A real OpenID provider for the tests: node-oidc-provider (from npm) in its own process.

`npm ci` installs it into tests/oidc/node_modules the first time (package-lock.json pins
every package); provider.mjs configures it. The tests sign in through its own development
login form with a plain HTTP session, exactly as a browser would, and change people's groups
by rewriting the accounts file it reads at every sign-in.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import requests

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
READY_TIMEOUT = 30
CLIENT_ID = "controlplane"
CLIENT_SECRET = "controlplane-test-client-secret-0123456789"
OTHER_CLIENT_ID = "other-app"
OTHER_CLIENT_SECRET = "other-app-test-client-secret-9876543210"


class ProviderUnavailable(RuntimeError):
    pass


def npm_install() -> None:
    """Install the provider's pinned packages once (a lock file keeps parallel workers out
    of each other's way)."""
    if (NODE_MODULES / "oidc-provider" / "package.json").exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ProviderUnavailable("npm is not installed: install Node.js 20+ and npm")
    with (HERE / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (NODE_MODULES / "oidc-provider" / "package.json").exists():
            return
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--omit=dev"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise ProviderUnavailable(f"npm ci failed in {HERE}:\n{result.stderr[-2000:]}")


class _Forms(HTMLParser):
    """The forms of a page: action, method and the inputs' names and values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "action": attrs.get("action", ""),
                    "method": attrs.get("method", "get"),
                    "fields": {},
                }
            )
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value", "")


class OidcProvider:
    """One provider process on 127.0.0.1:<port> with two clients (ours and another app)."""

    def __init__(
        self,
        *,
        port: int,
        redirect_uris: list[str],
        workdir: Path,
        post_logout_redirect_uris: list[str] | None = None,
    ):
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.redirect_uris = redirect_uris
        # Where RP-initiated logout may send the browser back to (registered per client).
        self.post_logout_redirect_uris = post_logout_redirect_uris or []
        self.accounts_path = workdir / "accounts.json"
        self.log_path = workdir / "provider.log"
        self.accounts: dict[str, dict] = {}
        self.process: subprocess.Popen | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> OidcProvider:
        npm_install()
        node = shutil.which("node")
        if node is None:
            raise ProviderUnavailable("node is not installed: install Node.js 20+")
        self._write_accounts()
        clients = [
            {
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uris": self.redirect_uris,
                "post_logout_redirect_uris": self.post_logout_redirect_uris,
            }
            for client_id, secret in (
                (CLIENT_ID, CLIENT_SECRET),
                (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET),
            )
        ]
        env = {
            **os.environ,
            "OIDC_TEST_PORT": str(self.port),
            "OIDC_TEST_CLIENTS": json.dumps(clients),
            "OIDC_TEST_ACCOUNTS": str(self.accounts_path),
            "NODE_ENV": "development",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [node, str(HERE / "provider.mjs")],
                cwd=HERE,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProviderUnavailable(f"the OpenID provider exited:\n{self.log()}")
            try:
                found = requests.get(self.discovery_url, timeout=2)
                if found.ok and found.json().get("issuer") == self.issuer:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise ProviderUnavailable(f"the OpenID provider did not serve discovery:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # --- people -------------------------------------------------------------------------------

    def _write_accounts(self) -> None:
        temporary = self.accounts_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.accounts))
        temporary.replace(self.accounts_path)

    def set_account(
        self,
        login: str,
        *,
        groups: list[str],
        preferred_username: str | None = None,
        email: str | None = None,
    ) -> None:
        """Create or change the account whose subject is `login`."""
        self.accounts[login] = {
            "preferred_username": preferred_username if preferred_username is not None else login,
            "email": email if email is not None else f"{login}@example.org",
            "groups": groups,
        }
        self._write_accounts()

    # --- signing in ---------------------------------------------------------------------------

    def sign_in(
        self, authorize_url: str, *, login: str, browser: requests.Session | None = None
    ) -> str:
        """Follow `authorize_url` in a browser session (a fresh one unless given), fill in the
        login form if the provider asks, and return the URL the provider sends the browser
        back to (not followed)."""
        browser = browser or requests.Session()
        url = authorize_url
        for _ in range(10):
            if any(url.startswith(uri) for uri in self.redirect_uris):
                return url
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            if response.status_code != 200:
                raise AssertionError(f"provider answered {response.status_code}: {response.text}")
            forms = _Forms()
            forms.feed(response.text)
            login_form = next((f for f in forms.forms if "login" in f["fields"]), None)
            if login_form is None:
                # An error page of the provider (e.g. an unknown client).
                text = re.sub(r"<[^>]+>", " ", response.text)
                raise AssertionError(f"no login form at {url}: {' '.join(text.split())[:500]}")
            fields = {**login_form["fields"], "login": login, "password": "any"}
            posted = browser.post(
                urljoin(url, login_form["action"]), data=fields, allow_redirects=False, timeout=10
            )
            assert posted.is_redirect, posted.text
            url = urljoin(url, posted.headers["Location"])
        raise AssertionError(f"the provider never redirected back (last at {url})")

    def asks_to_log_in(self, authorize_url: str, *, browser: requests.Session) -> bool:
        """Whether the provider shows its login form for `authorize_url` in this browser
        session (rather than sending the browser straight back: a session it still holds)."""
        url = authorize_url
        for _ in range(10):
            if any(url.startswith(uri) for uri in self.redirect_uris):
                return False
            response = browser.get(url, allow_redirects=False, timeout=10)
            if not response.is_redirect:
                forms = _Forms()
                forms.feed(response.text)
                return any("login" in f["fields"] for f in forms.forms)
            url = urljoin(url, response.headers["Location"])
        raise AssertionError(f"the provider kept redirecting (last at {url})")

    def confirm_logout(self, end_session_url: str, *, browser: requests.Session) -> str:
        """Open the provider's end-session page as the browser would, answer "Yes, sign me
        out", and return where the provider sends the browser next (not followed)."""
        page = browser.get(end_session_url, allow_redirects=False, timeout=10)
        if page.status_code != 200:
            raise AssertionError(f"end_session answered {page.status_code}: {page.text[:500]}")
        forms = _Forms()
        forms.feed(page.text)
        form = next((f for f in forms.forms if "xsrf" in f["fields"]), None)
        if form is None:
            text = re.sub(r"<[^>]+>", " ", page.text)
            raise AssertionError(
                f"no logout form at {end_session_url}: {' '.join(text.split())[:500]}"
            )
        posted = browser.post(
            urljoin(end_session_url, form["action"]),
            data={**form["fields"], "logout": "yes"},
            allow_redirects=False,
            timeout=10,
        )
        assert posted.is_redirect, posted.text[:500]
        return urljoin(end_session_url, posted.headers["Location"])

    def token_for(
        self, *, client_id: str, client_secret: str, redirect_uri: str, login: str, nonce: str
    ) -> dict:
        """A real token response for another client (driven directly, as that client would)."""
        import base64
        import hashlib
        import secrets
        from urllib.parse import parse_qs, urlencode, urlsplit

        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        metadata = requests.get(self.discovery_url, timeout=5).json()
        query = urlencode(
            {
                "client_id": client_id,
                "response_type": "code",
                "scope": "openid profile email groups",
                "redirect_uri": redirect_uri,
                "state": secrets.token_urlsafe(16),
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        back = self.sign_in(f"{metadata['authorization_endpoint']}?{query}", login=login)
        code = parse_qs(urlsplit(back).query)["code"][0]
        response = requests.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(client_id, client_secret),
            timeout=10,
        )
        response.raise_for_status()
        return response.json()
