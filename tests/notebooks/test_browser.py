"""The composer notebook in a real JupyterLab, driven through Debian's Chromium by Playwright.

JupyterLab listens on loopback with a token, with user settings that turn its news pop-up
off. The test runs all cells, edits the k0 learning-rate readout in the page, and checks
that the kernel's policy spec (shown in the composer's spec view, written by the kernel)
and the plotted curve changed. A screenshot goes to the store (and, with
WORKBENCH_ARTIFACTS set, to the artefacts folder).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need_service
from workbench.commands.lab import lab_command, lab_env, notebooks_dir, write_quiet_settings
from workbench.paths import store_path
from workbench.policies import from_spec

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
NOTEBOOK = "01_compose_policies.ipynb"
CHECKOUT_STORE = Path(__file__).resolve().parents[2] / "store"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer at {url}:\n{log.read_text()[-3000:]}")


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on a copy of the composer notebook; yields (base URL, token)."""
    need_service(CHROMIUM.exists(), f"Chromium ({CHROMIUM})")
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    shutil.copy(notebooks_dir() / NOTEBOOK, nb_dir / NOTEBOOK)  # the checkout stays clean
    settings = tmp_path / "lab-settings"
    write_quiet_settings(settings)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = lab_command(
        nb_dir, port=port, token=token, open_browser=False, settings_dir=settings,
        workspaces_dir=tmp_path / "workspaces",
    )  # fmt: skip
    # Lets the test run commands ("run all cells") through the app, as galata does.
    cmd.append("--LabApp.expose_app_in_browser=True")
    cmd.append("--LabApp.extension_manager=readonly")  # no package index queries
    env = lab_env(tmp_path / "jupyter")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "config")  # no user config leaks in
    log = tmp_path / "lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(f"{base}/api/status?token={token}", proc, log)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _save_screenshot(png: bytes) -> Path:
    path = store_path("screenshots", "composer_jupyterlab.png")
    path.write_bytes(png)
    # Tests run with a temporary store root; CI keeps the picture as an artefact in the
    # checkout's store/ (WORKBENCH_ARTIFACTS=1) or in the folder that variable names.
    target = os.environ.get("WORKBENCH_ARTIFACTS")
    if target:
        folder = CHECKOUT_STORE if target == "1" else Path(target)
        dest = folder / "screenshots" / path.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, dest)
    return path


def _spec_text(page) -> str:
    return page.locator(".wb-spec pre").inner_text()


def test_composer_notebook_in_jupyterlab(lab: tuple[str, str]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    base, token = lab
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1500})
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
            page.locator(".jp-NotebookPanel").first.wait_for(timeout=60_000)
            # Run all once the kernel is up (the command waits for the session).
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel; }",
                timeout=60_000,
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            spec_view = page.locator(".wb-spec pre")
            spec_view.wait_for(timeout=90_000)
            before = json.loads(_spec_text(page))
            assert before == {"function": "TRI", "k0": 0.001, "k1": 0.01, "l": 375}
            hash_before = page.locator(".wb-hash").inner_text()
            plot = page.locator(".wb-plot")
            plot.scroll_into_view_if_needed()
            plot_before = plot.screenshot()

            readout = page.locator(".wb-param-k0 .widget-readout").first
            readout.click()
            page.keyboard.press("Control+A")
            page.keyboard.type("0.005")
            page.keyboard.press("Enter")
            page.wait_for_function(
                "() => document.querySelector('.wb-spec pre').innerText.includes('0.005')",
                timeout=30_000,
            )
            after = json.loads(_spec_text(page))
            assert after == {**before, "k0": 0.005}
            hash_text = page.locator(".wb-hash").inner_text()
            assert hash_text != hash_before and from_spec(after).hash in hash_text
            # The kernel redraws the plot after the spec; wait for new pixels.
            deadline = time.monotonic() + 30
            plot_after = plot.screenshot()
            while plot_after == plot_before and time.monotonic() < deadline:
                time.sleep(0.3)
                plot_after = plot.screenshot()
            assert plot_after != plot_before, "the plotted curve did not change"
            # Overlay the paper's LeNet default for the screenshot (a second control).
            page.locator(".wb-composer select[multiple]").first.select_option(
                label="default: caffe-lenet-inv"
            )
            deadline = time.monotonic() + 30
            plot_overlay = plot.screenshot()
            while plot_overlay == plot_after and time.monotonic() < deadline:
                time.sleep(0.3)
                plot_overlay = plot.screenshot()
            assert plot_overlay != plot_after, "the overlay was not drawn"
            page.locator(".wb-composer").scroll_into_view_if_needed()
            shot = _save_screenshot(page.screenshot(full_page=False))
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
