"""What the browser tests do on a page: sign in, read messages and errors, check that no table overflows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

VIEWPORT = {"width": 1280, "height": 900}

# Measures the page: every table wider than the block that holds it, and the document's own width.
# A table in the admin's changelist sits in a scrolling div, so the page as a whole never grows:
# only comparing each table with its container shows the columns that do not fit.
MEASURE_LAYOUT_JS = """
() => {
  const container = (element) => {
    let parent = element.parentElement;
    while (parent && /^(inline|contents)/.test(getComputedStyle(parent).display)) parent = parent.parentElement;
    return parent || document.documentElement;
  };
  const describe = (element) =>
    element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
    (typeof element.className === "string" && element.className.trim()
      ? "." + element.className.trim().split(/\\s+/).join(".") : "");
  const overflowing = [];
  for (const table of document.querySelectorAll("table")) {
    const parent = container(table);
    if (table.scrollWidth > parent.clientWidth + 1) {
      const headers = [...table.querySelectorAll("thead th")].map((th) => th.innerText.trim()).filter(Boolean);
      overflowing.push({
        table: describe(table), container: describe(parent),
        tableWidth: table.scrollWidth, containerWidth: parent.clientWidth, columns: headers,
      });
    }
  }
  return {
    url: location.href, title: document.title, viewportWidth: window.innerWidth,
    documentWidth: document.documentElement.scrollWidth, overflowing,
  };
}
"""

# Installed in every page of a test's browser contexts: measure once the page has loaded and laid out,
# and hand the result to the test (an exposed function), so pages passed through on the way are checked too.
LAYOUT_REPORTER_JS = f"""
if (window.top === window) {{
  window.addEventListener("load", () => requestAnimationFrame(() => setTimeout(() => {{
    if (window.__reportLayout) window.__reportLayout(({MEASURE_LAYOUT_JS})());
  }}, 0)));
}}
"""


@dataclass
class LayoutReports:
    """What was measured at each page load of a test's browser contexts, and how much of it was checked."""

    reports: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0

    def add(self, report: dict[str, Any]) -> None:
        self.reports.append(report)


def layout_problems(report: dict[str, Any]) -> list[str]:
    """Return what does not fit on one measured page, as lines for a failure message."""
    problems = [
        f"{report['url']}: {table['table']} is {table['tableWidth']} px wide in {table['container']} of "
        f"{table['containerWidth']} px (columns: {', '.join(table['columns']) or '?'})"
        for table in report["overflowing"]
    ]
    if report["documentWidth"] > report["viewportWidth"] + 1:
        problems.append(
            f"{report['url']}: the page is {report['documentWidth']} px wide in a {report['viewportWidth']} px window"
        )
    return problems


def unchecked_layout_problems(reports: LayoutReports) -> list[str]:
    """Return the problems of every page measured since the last check, and mark them checked."""
    fresh = reports.reports[reports.checked:]
    reports.checked = len(reports.reports)
    problems: list[str] = []
    for report in fresh:
        for problem in layout_problems(report):
            if problem not in problems:
                problems.append(problem)
    return problems


def assert_no_overflow(page: Page) -> None:
    """Assert that no table on this page, nor on any page loaded before it, is wider than its container at 1280 px."""
    reports = page.layout_reports  # type: ignore[attr-defined]
    reports.add(page.evaluate(f"({MEASURE_LAYOUT_JS})()"))
    problems = unchecked_layout_problems(reports)
    assert not problems, "Tables wider than their container at 1280 px:\n  " + "\n  ".join(problems)


def sign_in(page: Page, admin_url: str, email: str, password: str) -> None:
    """Open an admin's sign-in page and submit the email and password (whatever the outcome)."""
    page.goto(admin_url)
    page.fill("#id_username", email)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("#login-form [type=submit]")


def messages(page: Page, level: str = "") -> list[str]:
    """Return the texts of the admin's messages (ul.messagelist), of one level (success, error…) when given."""
    selector = f"ul.messagelist li.{level}" if level else "ul.messagelist li"
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def form_errors(page: Page) -> list[str]:
    """Return every error a submitted admin form shows: the note, field and form errors, error messages."""
    selector = ".errornote, ul.errorlist li, ul.messagelist li.error"
    return [text.strip() for text in page.locator(selector).all_inner_texts()]


def session_cookie(page: Page) -> dict[str, Any] | None:
    """Return the session cookie of the page's current host, if one was set."""
    for cookie in page.context.cookies(page.url):
        if cookie["name"] == "sessionid":
            return dict(cookie)
    return None


def describe(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
