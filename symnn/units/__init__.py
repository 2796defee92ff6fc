"""Units as a symmetry: Buckingham Π groups, an exactly unit-covariant layer, and its checks.

Declare the units of the inputs and the output once:

>>> import symnn
>>> from symnn.units import pi_groups
>>> units = {"L": "m", "m": "kg", "g": "m/s**2", "theta0": "rad"}
>>> print(pi_groups(units, ("T", "s")))
Π analysis: T [s] from L [m], m [kg], g [m/s**2], theta0 [rad]
  dimensions: length, mass, time (rank 3): 4 inputs make 1 dimensionless group, 2 with the output
  Π1 = theta0
  T*sqrt(g)/sqrt(L) = Φ(Π1)
  m drops out: no other quantity carries mass

- :func:`pi_groups`: the Buckingham Π analysis, exact rational exponents.
- :class:`Dimensionless`: :math:`y = s(x)\\,g(\\Pi(x))`, exactly covariant under any change
  of units (inductive bias).
- :class:`UnitScaling`: the same knowledge as a :class:`~symnn.Symmetry`, for
  :func:`~symnn.augment`, :func:`~symnn.symmetry_penalty` and :mod:`symnn.testing`.

Units are parsed by ``sympy.physics.units`` (see :func:`parse_unit`).
"""

from symnn.units._dimensionless import Dimensionless
from symnn.units._parse import BASE_DIMENSIONS, parse_unit
from symnn.units._pi import PiGroups, pi_groups
from symnn.units._unit_scaling import UnitScaling

__all__ = ["pi_groups", "PiGroups", "Dimensionless", "UnitScaling", "parse_unit", "BASE_DIMENSIONS"]
