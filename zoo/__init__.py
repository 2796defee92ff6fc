"""The symnn zoo: worked problems that measure, side by side, what each bias buys.

Installed as the package ``symnn_zoo`` (the folder in the repository is ``zoo/``).
Each problem is a module that declares one :class:`~symnn_zoo._problem.Problem`:
its data, its ladder of levels (plain model, observation, learning, inductive and
physics biases, each a line or two of symnn), an evaluation on in- and
out-of-distribution test sets, and the claims its results should support.  Run them
from the command line::

    symnn-zoo list
    symnn-zoo list triangle
    symnn-zoo run triangle --quick

(also ``python -m symnn_zoo ...``).  The zoo uses only symnn's public API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._problem import Problem

__all__ = ["PROBLEMS", "PROBLEM_NAMES", "get_problem"]

#: The registry: each problem's name and the module (in this package) that declares
#: its ``PROBLEM``, in the order ``symnn-zoo list`` shows them.  A new problem is one
#: line here.  The modules are imported on demand, so that a bad command line is
#: answered before torch is imported.
PROBLEMS: dict[str, str] = {
    "triangle": ".triangle",
    "spring": ".spring",
    "rotation": ".rotation",
    "laplace": ".laplace",
    "pendulum": ".pendulum",
    "elasticity": ".elasticity",
    "inertia": ".inertia",
}

#: The problems' names, in the registry's order.
PROBLEM_NAMES = tuple(PROBLEMS)


def get_problem(name: str) -> Problem:
    """The :class:`~symnn_zoo._problem.Problem` called ``name`` (its module is imported on demand).

    Raises
    ------
    ValueError
        For a name not in :data:`PROBLEMS`, naming the ones that exist.
    """
    if name not in PROBLEMS:
        raise ValueError(f"unknown problem {name!r}; choose from {', '.join(PROBLEM_NAMES)}")
    problem = importlib.import_module(PROBLEMS[name], __name__).PROBLEM
    if problem.name != name:
        raise RuntimeError(f"the registry's {name!r} module declares the problem {problem.name!r}")
    return problem
