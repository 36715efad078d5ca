"""ipywidgets views of the workbench: policy composer, run monitor, results browser.

Views only: the logic lives in the library (`workbench.policies`, `train`, `verify`,
`store`), so every widget is testable by setting `.value` on its controls and reading state.
"""

from workbench.widgets.browser import ResultsBrowser
from workbench.widgets.composer import PolicyComposer
from workbench.widgets.monitor import RunMonitor

__all__ = ["PolicyComposer", "ResultsBrowser", "RunMonitor"]
