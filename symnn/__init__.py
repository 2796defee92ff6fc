"""symnn: symmetries and physics built into neural networks.

One :class:`Symmetry` object carries what is known about a problem; the same object
feeds data augmentation, loss penalties, structural layers and the equivariance
checker in :mod:`symnn.testing`.
"""

from symnn import functional, pinn, priors, testing
from symnn._augment import AugmentedDataset, RandomAction, augment
from symnn._frame import FrameAverage
from symnn._mlp import MLP
from symnn._parity import Even, Odd
from symnn._penalty import SymmetryPenalty, SymmetryPenaltySum, symmetry_penalty
from symnn._permutation import PermutationSort
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

__all__ = [
    "__version__",
    # symmetries
    "Symmetry",
    "Parity",
    "Permutation",
    "Scaling",
    "Rotation",
    "ProductSymmetry",
    "InfiniteGroupError",
    # layers
    "Odd",
    "Even",
    "PermutationSort",
    "ScaleNormalize",
    "Symmetrize",
    "SO3Exp",
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
    "testing",
]
