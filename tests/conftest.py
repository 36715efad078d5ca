"""Shared test fixtures: an isolated store root per test, and the services switch."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("WORKBENCH_REQUIRE_SERVICES") == "1"


def need_service(available: bool, what: str) -> None:
    """Skip (on a laptop) or fail (in CI, WORKBENCH_REQUIRE_SERVICES=1) when missing."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (WORKBENCH_REQUIRE_SERVICES=1) but not available")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def shared_data_root(tmp_path_factory: pytest.TempPathFactory):
    """One dataset cache for the whole session (generated datasets are reused)."""
    return tmp_path_factory.mktemp("workbench_data")


@pytest.fixture(autouse=True)
def _isolated_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, shared_data_root
):
    """Every test gets its own store root and no ambient database URL."""
    home = tmp_path_factory.mktemp("workbench_home")
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    monkeypatch.setenv("WORKBENCH_DATA", str(shared_data_root))
    monkeypatch.delenv("WORKBENCH_DB_URL", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield home
