"""Driver 1 — goal design: how many goals, what reps perceive, and where their effort goes.

Each goal has a *relevance* to every market cell (segment × product): how much one opportunity in
that cell does for the goal, relative to the natural mix. A rep tilts their prospecting mix toward
the cells their *perceived* goal weights favour; perception gets noisier with every extra goal, and
with three or more goals a rep may drop the lowest-weight one. Every goal beyond the first costs
focus: a log-odds penalty on every stage and a small loss of selling effort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salessim.funnel import Plan
from salessim.scenario import Goal, Scenario

__all__ = ["GoalModel"]


class GoalModel:
    """The goal plan of a scenario, resolved against its funnel."""

    def __init__(self, scenario: Scenario, plan: Plan) -> None:
        g = scenario.goals
        self.goals: tuple[Goal, ...] = g.items
        self.n = len(g.items)
        self.weights = np.array([x.weight for x in g.items])
        self.cfg = g
        cells = plan.cells
        self.cells = cells
        self.natural = cells["share"].to_numpy()
        self.relevance = np.vstack([self._relevance(goal, cells, plan) for goal in g.items])
        self.targets = np.array([self._target(goal, cells, plan) for goal in g.items])
        self.lowest = int(np.argmin(self.weights)) if self.n >= 3 else -1

    # ---------------------------------------------------------------------------------------
    @staticmethod
    def _relevance(goal: Goal, cells: pd.DataFrame, plan: Plan) -> np.ndarray:
        share = cells["share"].to_numpy()
        win_value = (cells["win_prob"] * cells["mean_amount"]).to_numpy()
        seg = cells["segment"].to_numpy()
        prod = cells["product"].to_numpy()
        m = goal.metric
        if m == "revenue":
            raw = win_value
        elif m in ("new_logos",):
            raw = np.where(seg == "new_logo", cells["win_prob"].to_numpy(), 0.0)
        elif m == "new_logo_revenue":
            raw = np.where(seg == "new_logo", win_value, 0.0)
        elif m == "expansion_revenue":
            raw = np.where(seg == "expansion", win_value, 0.0)
        elif m == "product_revenue":
            raw = np.where(prod == goal.product, win_value, 0.0)
        elif m == "avg_deal_size":
            raw = cells["mean_amount"].to_numpy()
        elif m == "win_rate":
            raw = cells["win_prob"].to_numpy()
        else:  # opportunities: every cell counts the same
            raw = np.ones(len(cells))
        total = float(share @ raw)
        if not total > 0:  # nothing in this market serves the goal (e.g. a product with no share)
            return np.zeros(len(cells))
        return raw / total

    @staticmethod
    def _target(goal: Goal, cells: pd.DataFrame, plan: Plan) -> float:
        """Per-rep annual target; when not given, what quota implies at the natural mix."""
        if goal.target is not None:
            return float(goal.target)
        share = cells["share"].to_numpy()
        win = cells["win_prob"].to_numpy()
        amt = cells["mean_amount"].to_numpy()
        seg = cells["segment"].to_numpy()
        prod = cells["product"].to_numpy()
        new_per_year = plan.wins_per_year / plan.win_rate
        per_cell_rev = new_per_year * share * win * amt
        m = goal.metric
        if m == "revenue":
            return plan.quota
        if m == "new_logos":
            return float(new_per_year * (share * win)[seg == "new_logo"].sum())
        if m == "new_logo_revenue":
            return float(per_cell_rev[seg == "new_logo"].sum())
        if m == "expansion_revenue":
            return float(per_cell_rev[seg == "expansion"].sum())
        if m == "product_revenue":
            return float(per_cell_rev[prod == goal.product].sum())
        if m == "avg_deal_size":
            return plan.avg_won_amount
        if m == "win_rate":
            return plan.win_rate
        return float(new_per_year)

    # ---------------------------------------------------------------------------------------
    def person(self, u_drop: float, z_perception: np.ndarray) -> tuple[np.ndarray, bool, int]:
        """A rep's perceived weights, whether they dropped a goal, and their goal count.

        Args:
            u_drop: the rep's uniform draw deciding whether they drop the lowest-weight goal.
            z_perception: standard-normal draws, one per goal slot (only the first n are used).
        """
        sd = self.cfg.perception_noise_per_goal * (self.n - 1)
        perceived = self.weights * np.exp(sd * z_perception[: self.n] - sd * sd / 2)
        dropped = self.n >= 3 and u_drop < self.cfg.drop_probability
        if dropped:
            perceived[self.lowest] = 0.0
        perceived = perceived / perceived.sum()
        return perceived, bool(dropped), self.n - int(dropped)

    def mix(self, perceived: np.ndarray) -> np.ndarray:
        """Prospecting mix over market cells for the given perceived goal weights."""
        attract = perceived @ self.relevance  # Σ natural × attract = 1
        tilt = self.cfg.mix_tilt
        mix = self.natural * ((1 - tilt) + tilt * attract)
        return mix / mix.sum()

    def focus_penalty(self, n_goals: np.ndarray | int) -> np.ndarray:
        """Log-odds lost to goal overload by a rep pursuing ``n_goals`` goals."""
        pen = self.cfg.focus_penalty_per_goal * (np.asarray(n_goals) - 1)
        if self.cfg.interwoven and self.n > 1:
            pen = pen + self.cfg.interwoven_penalty
        return pen

    def focus_effort(self, n_goals: np.ndarray | int) -> np.ndarray:
        """Share of selling effort left after switching between ``n_goals`` goals."""
        left = 1 - self.cfg.effort_loss_per_goal * (np.asarray(n_goals) - 1)
        return np.minimum(np.maximum(left, 0.3), 1.0)  # np.clip's values, without its overhead

    def clarity(self) -> float:
        """How clear the goal plan is to the field, in [0, 1] (a culture signal)."""
        c = 1.0 - 0.15 * (self.n - 1) - (0.15 if self.cfg.interwoven else 0.0)
        return float(np.clip(c, 0.0, 1.0))

    def attainment(self, metrics: dict[str, np.ndarray], year_fraction: np.ndarray) -> np.ndarray:
        """Per-goal attainment (rows: reps, columns: goals) for metric values over a period.

        Args:
            metrics: per rep — revenue, wins, new_logo_wins, new_logo_revenue, expansion_revenue,
                product_revenue:<P>, created, closed.
            year_fraction: share of a year each rep's targets cover (period × time in seat).
        """
        cols = []
        for goal, target in zip(self.goals, self.targets, strict=True):
            m = goal.metric
            if m == "avg_deal_size":
                v = np.divide(
                    metrics["revenue"],
                    metrics["wins"],
                    out=np.zeros_like(metrics["revenue"]),
                    where=metrics["wins"] > 0,
                )
                cols.append(v / target)
                continue
            if m == "win_rate":
                v = np.divide(
                    metrics["wins"],
                    metrics["closed"],
                    out=np.zeros_like(metrics["revenue"]),
                    where=metrics["closed"] > 0,
                )
                cols.append(v / target)
                continue
            key = {
                "revenue": "revenue",
                "new_logos": "new_logo_wins",
                "new_logo_revenue": "new_logo_revenue",
                "expansion_revenue": "expansion_revenue",
                "opportunities": "created",
            }.get(m, f"product_revenue:{goal.product}")
            denom = target * year_fraction
            cols.append(np.divide(metrics[key], denom, out=np.zeros_like(denom), where=denom > 0))
        return np.column_stack(cols)

    def composite(self, attainment: np.ndarray) -> np.ndarray:
        """Weighted composite attainment, each goal capped (the plan's payout view)."""
        return np.minimum(attainment, self.cfg.composite_cap) @ self.weights
