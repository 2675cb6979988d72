"""A real server in a child process and Debian's Chromium driven by Playwright.

The browser tests need /usr/bin/chromium (or the path in CHROMIUM) and the
playwright package. Without them they are skipped, and the run says so in its
summary; with REQUIRE_BROWSER=1 (CI) they fail instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connections

from tests.browser.browsing import LAYOUT_REPORTER_JS, VIEWPORT, LayoutReports, unchecked_layout_problems
from tests.live_server import LiveServer, django_db_setup, start_live_server  # noqa: F401  (fixture)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

    from tenants.models import User

DEFAULT_CHROMIUM = "/usr/bin/chromium"

# Why the browser tests could not run, once a test has found out (for the summary line).
_missing_browser: list[str] = []


def chromium_path() -> str:
    """Return where Chromium is expected: CHROMIUM when set, else Debian's /usr/bin/chromium."""
    return os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM


def browser_missing_reason() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"Chromium not found at {path} (apt-get install chromium, or set CHROMIUM)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say plainly, at the end of the run, that the browser tests did not run and why."""
    if _missing_browser:
        terminalreporter.write_line(f"browser tests: skipped, {_missing_browser[0]}", yellow=True, bold=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, for one test module; skipped (failed with REQUIRE_BROWSER=1) when missing."""
    reason = browser_missing_reason()
    if reason is not None:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests: {reason}; REQUIRE_BROWSER=1 makes that a failure", pytrace=False)
        _missing_browser.append(reason)
        pytest.skip(f"browser tests: {reason}")

    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running on this thread while it is started, and Django
    # refuses ORM calls under a running loop. The tests' ORM calls are plain blocking ones between
    # browser steps, so the check is lifted for as long as Playwright runs, and no longer: the module
    # scope stops Playwright (and its loop) before the next module's tests.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=chromium_path(),
                args=["--no-sandbox"],  # CI runs as root, where Chromium's sandbox cannot start
            )
            try:
                yield chromium
            finally:
                chromium.close()
                # Under a running loop, asgiref keeps Django's connections in a context variable rather
                # than the thread's storage: the ones opened while Playwright ran are closed here, or
                # they would outlive it and keep the test database from being dropped.
                connections.close_all()


@pytest.fixture
def layout_reports() -> LayoutReports:
    return LayoutReports()


@pytest.fixture
def new_page(browser: Browser, layout_reports: LayoutReports, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open pages in browser contexts of their own (separate cookies), 1280 px wide, measured at every load.

    With BROWSER_SHOTS=<dir>, every page load is also saved as a screenshot there.
    """
    contexts: list[BrowserContext] = []
    shots_dir = os.environ.get("BROWSER_SHOTS")
    counter = [0]

    def open_page() -> Page:
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(10_000)
        context.expose_function("__reportLayout", layout_reports.add)
        context.add_init_script(LAYOUT_REPORTER_JS)
        contexts.append(context)
        page = context.new_page()
        page.layout_reports = layout_reports  # type: ignore[attr-defined]
        if shots_dir:
            Path(shots_dir).mkdir(parents=True, exist_ok=True)
            page.shot = lambda name: _screenshot(page, shots_dir, request.node.name, counter, name)  # type: ignore[attr-defined]
        else:
            page.shot = lambda name: None  # type: ignore[attr-defined]
        return page

    yield open_page
    for context in contexts:
        context.close()
    # A test that failed before its own assert_no_overflow still reports the pages it saw that do not fit.
    problems = unchecked_layout_problems(layout_reports)
    if problems:
        pytest.fail("Tables wider than their container at 1280 px:\n  " + "\n  ".join(problems), pytrace=False)


def _screenshot(page: Page, shots_dir: str, test_name: str, counter: list[int], name: str) -> None:
    counter[0] += 1
    safe = "".join(char if char.isalnum() or char in "-_" else "-" for char in f"{test_name}-{counter[0]:02d}-{name}")
    page.screenshot(path=os.path.join(shots_dir, f"{safe}.png"), full_page=True)


@pytest.fixture(scope="module")
def server_process(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
) -> Iterator[LiveServer]:
    """manage.py runserver on a free port, in a child process, against the test database; one per module."""
    from tenants.services import ensure_public_tenant

    with django_db_blocker.unblock():
        ensure_public_tenant()  # the readiness probe asks the public host
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    try:
        # The suite's fast password hashing, so the server checks the passwords the tests set.
        with start_live_server(log_path, env={"DJANGO_SETTINGS_MODULE": "tests.browser.server_settings"}) as server:
            yield server
    finally:
        if os.environ.get("BROWSER_SHOTS"):
            shutil.copy(log_path, Path(os.environ["BROWSER_SHOTS"]) / "server.log")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test, so its fixtures can tell whether it failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def live_site(server_process: LiveServer, committed: None, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The running server, with each test's committed data removed after it (the `committed` fixture).

    When the test fails, what the server logged during it is printed with the failure.
    """
    start = server_process.log_path.stat().st_size
    yield server_process
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        with server_process.log_path.open(errors="replace") as log:
            log.seek(start)
            lines = [line for line in log if '"GET /static/' not in line]
        print(f"--- the server's log during this test, static files left out ({server_process.log_path}):")
        print("".join(lines))


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


@pytest.fixture
def platform_admin(live_site: LiveServer) -> Credentials:
    """A platform superuser (no tenant), committed."""
    from tenants.models import User

    password = secrets.token_urlsafe(12)
    user: User = User.objects.create_superuser("admin@localhost", password)
    return Credentials(email=user.email, password=password)
