"""Rate budgets shared by every process of one bot token (issue 14): :mod:`core.ratelimit.budget`."""

from core.ratelimit.budget import Budget, Rate, SharedBudget

__all__ = ["Budget", "Rate", "SharedBudget"]
