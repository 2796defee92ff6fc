"""The pure tensor functions behind symnn's layers.

Each takes any number of leading batch dimensions; the layers in :mod:`symnn` are
thin modules around them.
"""

from symnn._frame import cloud_frames, frame_average
from symnn._parity import even_part, odd_part
from symnn._permutation import sort_canonical, sort_equivariant
from symnn._scale import input_scale, scale_normalize
from symnn._so3 import hat, so3_exp, so3_log, vee
from symnn._symmetrize import order_free_mean, symmetrize
from symnn.priors._heron_area import heron_area
from symnn.units._dimensionless import dimensionless, pi_features, power_product

__all__ = [
    "odd_part",
    "even_part",
    "sort_canonical",
    "sort_equivariant",
    "input_scale",
    "scale_normalize",
    "symmetrize",
    "order_free_mean",
    "hat",
    "vee",
    "so3_exp",
    "so3_log",
    "heron_area",
    "power_product",
    "pi_features",
    "dimensionless",
    "cloud_frames",
    "frame_average",
]
