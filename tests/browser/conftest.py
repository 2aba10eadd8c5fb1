"""Fixtures for the browser tests: one JupyterLab server and one Chromium per session.

Skipped, with the reason, only when Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) or the
Playwright package is missing. Never run ``playwright install``: Debian's Chromium is used.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.browser.lab import LabServer, isolated_env

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"
TIMINGS: dict[str, float] = {}


def pytest_collection_modifyitems(config, items):
    reason = None
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (pip install playwright)"
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    server = LabServer(tmp_path_factory.mktemp("lab"))
    try:
        server.start()
        TIMINGS["server start (s)"] = server.startup_s
        yield server
    finally:
        started = time.monotonic()
        server.stop()
        TIMINGS["server stop (s)"] = time.monotonic() - started


@pytest.fixture(scope="package")
def browser(tmp_path_factory):
    # Package scope: Playwright's sync API runs an asyncio loop in this thread while it is
    # open; closed with the browser tests, it leaves no running loop to the tests after them.
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            env=isolated_env(home),
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.console_errors = []  # type: ignore[attr-defined]
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(f"pageerror: {e}"))

    def on_dialog(dialog):
        page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield page
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:  # what the page showed, for the post-mortem
            failures = ARTIFACTS / "failures"
            failures.mkdir(parents=True, exist_ok=True)
            stem = request.node.name.replace("/", "_")
            page.screenshot(path=str(failures / f"{stem}.png"))
            errors = "\n".join(page.console_errors)
            (failures / f"{stem}.console.txt").write_text(errors + "\n")
            lab = request.getfixturevalue("lab")
            (failures / f"{stem}.server.log").write_text(lab.log_tail(200) + "\n")
    finally:
        context.close()


@pytest.fixture(scope="session", autouse=True)
def _report_timings(request):
    yield
    if TIMINGS and ARTIFACTS.parent.is_dir():
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        rounded = {key: round(value, 2) for key, value in TIMINGS.items()}
        (ARTIFACTS / "timings.json").write_text(json.dumps(rounded, indent=1) + "\n")


def copy_screenshot(source: Path, target: Path) -> None:
    """Refresh a screenshot the docs show, only when asked (DESIGNLOG_UPDATE_DOCS=1): a test
    run leaves the tracked files as they were."""
    if os.environ.get("DESIGNLOG_UPDATE_DOCS") != "1":
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
