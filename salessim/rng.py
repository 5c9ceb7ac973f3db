"""Random streams: one per random process, addressed by (replication, stream[, seat]).

No global random state anywhere. Every generator comes from
``SeedSequence(root_seed, spawn_key=(replication, stream, *sub))``, so the draws of one process never
shift when a lever changes another process's number of draws, and replication ``r`` of any scenario
sees the same people, deals and luck (common random numbers).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "stream"]

#: Stable stream identifiers. Never renumber: results are keyed on them.
STREAMS: dict[str, int] = {
    "people": 1,  # per seat: successive persons' skill, bias, goal perception, tenure
    "managers": 2,  # per team: its manager's coaching-quality z-score, then a promoted rep's
    "deals": 3,  # per seat: arrival gaps and every draw a deal needs
    "attrition": 4,  # per seat: the monthly voluntary-leave draws, month m taking the m-th
    "backfill": 5,  # per seat: vacancy durations, the seat's n-th vacancy taking the n-th
    "involuntary": 6,  # per seat: the n-th formal let-go decision about the seat's rep takes the n-th
    "seed_pipeline": 7,  # per seat: the open deals its starting rep holds at time 0 (steady state)
    "stage_skill": 8,  # per seat: successive persons' skill deviations by stage
}


def stream(seed: int, replication: int, name: str, *sub: int) -> np.random.Generator:
    """The generator for one random process of one replication (and optionally one seat)."""
    key = (int(replication), STREAMS[name], *(int(s) for s in sub))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))
