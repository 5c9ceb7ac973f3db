"""The SimPy model of a sales force under the eight drivers. Time is in days.

* :mod:`~salessim.model.salesforce` — orchestration: the :class:`SalesForce`, its processes, its run;
* :mod:`~salessim.model.clock` — warm-up, the reported year, quarters and meeting calendars;
* :mod:`~salessim.model.people` — seats and people: hire, ramp, leave, hand over, backfill;
* :mod:`~salessim.model.deals` — the deal book and the deals' flow through the stages;
* :mod:`~salessim.model.outlook` — each rep's true outlook and what managers can see of it;
* :mod:`~salessim.model.record` — what a replication leaves behind.

The drivers themselves live in :mod:`salessim.drivers`, one module each.
"""

from salessim.model.deals import LOGIT_LIMIT, LOST, OPEN, WON
from salessim.model.people import INVOLUNTARY, PROMOTED, VOLUNTARY
from salessim.model.record import ReplicationRecord
from salessim.model.salesforce import SalesForce

__all__ = [
    "INVOLUNTARY",
    "LOGIT_LIMIT",
    "LOST",
    "OPEN",
    "PROMOTED",
    "VOLUNTARY",
    "WON",
    "ReplicationRecord",
    "SalesForce",
]
