"""Physics priors: derive a model form from what is known, run it as a torch module, fit it.

The lecture's level 4 in three calls:

>>> import torch, symnn
>>> from symnn import priors
>>> d = priors.heron()                       # A² = C (a+b+c)(a+b-c)(a-b+c)(-a+b+c), derived
>>> edges = torch.tensor([[3.0, 4.0, 5.0], [2.0, 2.0, 2.0]], dtype=torch.float64)
>>> area = symnn.functional.heron_area(edges)
>>> result = priors.fit_constants(priors.heron_module(), edges, area)
>>> result.constants
{'C': 0.0625}

- :func:`derive` builds the most general polynomial obeying declared symmetries,
  a fixed degree (dimension) and zero sets, with a readable record of each step.
- :class:`SympyModule` evaluates any supported sympy expression with torch ops;
  its free constants are ``nn.Parameter``\\ s.
- :func:`fit_constants` fits those constants: closed-form least squares when they
  enter linearly (or linearly inside a root, as in :math:`A = \\sqrt{C P}`),
  L-BFGS otherwise.
- :func:`heron`, :func:`heron_module`, :func:`spring`: the zoo's priors, derived.
"""

from symnn.priors._derive import Derivation, Step, derive
from symnn.priors._fit import FitResult, fit_constants
from symnn.priors._problems import heron, heron_module, spring
from symnn.priors._sympy_module import SympyModule
from symnn.priors._translate import SUPPORTED_FUNCTIONS

__all__ = [
    "derive",
    "Derivation",
    "Step",
    "SympyModule",
    "SUPPORTED_FUNCTIONS",
    "fit_constants",
    "FitResult",
    "heron",
    "heron_module",
    "spring",
]
