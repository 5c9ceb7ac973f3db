"""salessim: try how you run a sales force on a simulated one before trying it on people.

The public face: :func:`load_scenario`, :func:`simulate`, :func:`plan` (and, as they land,
``compare`` and ``calibrate``). Everything else is importable but not advertised.
"""

from salessim.funnel import plan
from salessim.scenario import Scenario, ScenarioError, assumptions_register, load_scenario
from salessim.simulate import simulate

__version__ = "0.1.0"

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "assumptions_register",
    "load_scenario",
    "plan",
    "simulate",
]
