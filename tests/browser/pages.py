"""Steps the browser tests share."""

from pathlib import Path

from .conftest import SCREENSHOTS


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# make_user's default password (tests/fixtures/controlplane.py).
PASSWORD = "correct-horse-battery-staple"


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def wait_until_live(page) -> None:
    page.wait_for_selector("[data-live-indicator][data-state=live]")
