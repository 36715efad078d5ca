"""Matplotlib figures rendered to PNG bytes for `ipywidgets.Image` (no pyplot state).

Widgets draw with the object-oriented API on a private `Figure` and an Agg canvas, so a
redraw never touches the notebook's current figure and works the same headless (tests,
papermill) and in JupyterLab.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] = (7.5, 3.2)) -> Figure:
    """A figure with an Agg canvas attached (independent of pyplot)."""
    fig = Figure(figsize=size, dpi=90)
    FigureCanvasAgg(fig)
    fig.subplots(rows, cols)
    return fig


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def image(**layout: Any) -> Any:
    """An `ipywidgets.Image` for a figure, hidden until `show` gives it one (an empty
    Image shows as a broken picture)."""
    import ipywidgets as widgets

    return widgets.Image(format="png", layout=widgets.Layout(display="none", **layout))


def show(view: Any, fig: Figure) -> None:
    """Put `fig` into the Image `view` and make it visible."""
    view.value = png_bytes(fig)
    view.layout.display = None


def clear(fig: Figure) -> list[Any]:
    """Clear every axes of `fig` (keeping the layout) and return them."""
    for ax in fig.axes:
        ax.clear()
    return list(fig.axes)
