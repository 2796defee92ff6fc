"""symnn: symmetries and physics built into neural networks.

One :class:`Symmetry` object carries what is known about a problem; the same object
feeds data augmentation, loss penalties, structural layers and the equivariance
checker in :mod:`symnn.testing`.
"""

from symnn import diagnostics, functional, pinn, priors, solve, testing, units
from symnn._augment import AugmentedDataset, RandomAction, augment
from symnn._enforce import enforce
from symnn._frame import FrameAverage
from symnn._group_laws import check_group_laws
from symnn._mlp import MLP
from symnn._parity import Even, Odd
from symnn._penalty import SymmetryPenalty, SymmetryPenaltySum, symmetry_penalty
from symnn._permutation import PermutationSort, PermutationSortEquivariant
from symnn._residual import PhysicsResidual, ResidualPathway
from symnn._scale import ScaleNormalize
from symnn._so3 import SO3Exp
from symnn._symmetrize import Symmetrize
from symnn._symmetry import (
    InfiniteGroupError,
    Parity,
    Permutation,
    ProductSymmetry,
    Rotation,
    Scaling,
    Symmetry,
)
from symnn._version import __version__
from symnn.units import Dimensionless, UnitScaling

__all__ = [
    "__version__",
    # symmetries
    "Symmetry",
    "Parity",
    "Permutation",
    "Scaling",
    "Rotation",
    "UnitScaling",
    "ProductSymmetry",
    "InfiniteGroupError",
    "check_group_laws",
    # layers
    "enforce",
    "Odd",
    "Even",
    "PermutationSort",
    "PermutationSortEquivariant",
    "ScaleNormalize",
    "Symmetrize",
    "SO3Exp",
    "Dimensionless",
    "PhysicsResidual",
    "FrameAverage",
    "ResidualPathway",
    "MLP",
    # biases
    "augment",
    "RandomAction",
    "AugmentedDataset",
    "symmetry_penalty",
    "SymmetryPenalty",
    "SymmetryPenaltySum",
    # submodules
    "functional",
    "pinn",
    "priors",
    "solve",
    "diagnostics",
    "testing",
    "units",
]
