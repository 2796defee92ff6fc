"""The symnn zoo: worked problems that measure, side by side, what each bias buys.

Each problem is a module with its data, its ladder of levels (plain model,
observation, learning, inductive and physics biases, each a line or two of
symnn), an evaluation on in- and out-of-distribution test sets, and the claims
its results should support.  Run them from the command line::

    symnn-zoo list
    symnn-zoo run triangle --quick

(also ``python -m zoo ...``).  The zoo uses only symnn's public API.
"""

from __future__ import annotations

import importlib

__all__ = ["PROBLEM_NAMES", "get_problem"]

#: The problems, in the order ``symnn-zoo list`` shows them.
PROBLEM_NAMES = ("triangle", "spring", "rotation", "laplace")


def get_problem(name: str):
    """The :class:`zoo._problem.Problem` called ``name`` (its module is imported on demand)."""
    if name not in PROBLEM_NAMES:
        raise ValueError(f"unknown problem {name!r}; choose from {', '.join(PROBLEM_NAMES)}")
    return importlib.import_module(f"zoo.{name}").PROBLEM
