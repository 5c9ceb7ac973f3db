"""salessim: try how you run a sales force on a simulated one before trying it on people.

The public face: :func:`load_scenario`, :func:`simulate`, :func:`compare`, :func:`plan` and
:func:`calibrate`. Everything else is importable but not advertised.
"""

from salessim.calibrate import calibrate
from salessim.experiments import compare, sweep
from salessim.funnel import plan
from salessim.scenario import Scenario, ScenarioError, assumptions_register, load_scenario
from salessim.simulate import simulate

__version__ = "0.1.0"

__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "assumptions_register",
    "calibrate",
    "compare",
    "load_scenario",
    "plan",
    "simulate",
    "sweep",
]
