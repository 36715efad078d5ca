"""`workbench report`: a notebook run on a store, exported as self-contained HTML."""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.batch.helpers import FIXTURES
from workbench.batch.report import make_report
from workbench.cli import main


def test_report_html_embeds_plots_and_stamp(sqlite_url: str, _isolated_store: Path) -> None:
    info = make_report(
        db=sqlite_url, notebook=FIXTURES / "report.ipynb", parameters={"title": "tiny report"}
    )
    html = Path(info["html"])
    assert html.parent == _isolated_store / "reports" and html.suffix == ".html"
    text = html.read_text()
    assert "data:image/png;base64," in text  # the plot travels inside the file
    assert "tiny report True" in text  # the notebook saw the store URL as parameter and env
    assert sqlite_url.removeprefix("sqlite:///") in text and info["generated"] in text
    assert "torch" in info["versions"] and "papermill" in info["versions"]
    stamped = nbformat.read(info["notebook"], as_version=4)
    assert stamped.metadata["workbench"]["store"] == info["store"]


def test_report_hides_the_password(tmp_path: Path, pg_url: str) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(pg_url).set(password="s3cret-pw").render_as_string(hide_password=False)
    # PostgreSQL here trusts local connections, so any password connects.
    info = make_report(db=url, notebook=FIXTURES / "report.ipynb", out_dir=tmp_path)
    text = Path(info["html"]).read_text()
    assert "s3cret-pw" not in text and "***" in info["store"]
    assert Path(info["html"]).parent == tmp_path


def test_report_cli_rejects_unknown_parameters(capsys, sqlite_url: str) -> None:
    code = main(
        [
            "report",
            "--notebook",
            str(FIXTURES / "report.ipynb"),
            "-p",
            "colour",
            "red",
            "--db",
            sqlite_url,
        ]
    )
    assert code == 2
    assert "accepted parameters: title" in capsys.readouterr().err
