"""`workbench report`: the paper-tables notebook run on a store and exported to HTML."""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench.batch.jobs import execute
from workbench.batch.notebook import RESERVED, check_parameters, project_root, resolve_notebook
from workbench.batch.urls import check_reachable, public_url, resolve_url
from workbench.errors import BadInput
from workbench.paths import store_root

DEFAULT_NOTEBOOKS = ("notebooks/07_paper_tables.ipynb", "notebooks/paper_tables.ipynb")
VERSIONED = ("lr-workbench", "torch", "numpy", "pandas", "papermill", "nbconvert", "dask")


def default_notebook() -> Path:
    """The paper-tables notebook of this checkout."""
    for name in DEFAULT_NOTEBOOKS:
        if (project_root() / name).is_file():
            return project_root() / name
    found = sorted((project_root() / "notebooks").glob("*paper_tables*.ipynb"))
    if found:  # renumbered notebooks keep working
        return found[0]
    raise BadInput(
        f"no report notebook found (looked for {', '.join(DEFAULT_NOTEBOOKS)}); "
        "pass --notebook PATH"
    )


def versions() -> dict[str, str]:
    """Versions of Python and the packages a report depends on."""
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _stamp_cell(url: str, stamp: dict[str, Any]) -> Any:
    import nbformat

    lines = [
        "**LR Workbench report**",
        "",
        f"- store: `{public_url(url)}`",
        f"- generated: {stamp['generated']}",
        f"- notebook: `{stamp['source']}`",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in stamp["versions"].items()),
    ]
    cell = nbformat.v4.new_markdown_cell("\n".join(lines))
    cell.metadata["tags"] = ["workbench-stamp"]
    return cell


def make_report(
    *,
    db: str | None = None,
    notebook: str | Path | None = None,
    parameters: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Execute the report notebook on the store and export it as self-contained HTML."""
    import nbformat
    from nbconvert import HTMLExporter

    path = resolve_notebook(notebook) if notebook else default_notebook()
    url = resolve_url(db)
    check_parameters(path, parameters or {})
    check_reachable(url)
    params = dict(parameters or {})
    reserved = [k for k in params if k in RESERVED]
    if reserved:
        raise BadInput(f"parameter(s) {', '.join(reserved)} are set by the report runner")
    out = Path(out_dir).resolve() if out_dir else store_root() / "reports"
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    base = f"{path.stem}-{now.strftime('%Y%m%dT%H%M%SZ')}"
    executed = out / f"{base}.ipynb"
    payload = {
        "notebook": str(path),
        "db_url": url,
        "store_root": str(store_root()),
        "job_id": None,
        "sweep": None,
        "timeout": timeout,
    }
    t0 = time.monotonic()
    execute(payload, executed, params)
    stamp = {
        "store": public_url(url),
        "generated": now.isoformat(timespec="seconds"),
        "source": str(path),
        "versions": versions(),
    }
    nb = nbformat.read(executed, as_version=4)
    nb.cells.insert(0, _stamp_cell(url, stamp))
    nb.metadata["workbench"] = stamp
    nbformat.write(nb, executed)
    # Plot outputs are image/png in the notebook, so the HTML carries them as data: URIs;
    # embed_images also inlines images that markdown cells link to.
    exporter = HTMLExporter(embed_images=True)
    body, _ = exporter.from_notebook_node(nb)
    html = out / f"{base}.html"
    html.write_text(body, encoding="utf-8")
    return {
        **stamp,
        "html": str(html),
        "notebook": str(executed),
        "seconds": round(time.monotonic() - t0, 3),
    }
