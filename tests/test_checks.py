"""The shared argument checks: one wording, the argument's name in every message."""

import math

import numpy as np
import pytest
import torch

from symnn._checks import check_callable, check_int, check_number, check_positive_float, values_readable


def test_check_positive_float_names_the_argument_and_what_came():
    assert check_positive_float(1e-3, "rtol") == 1e-3
    assert check_positive_float(np.float32(0.5), "rtol") == 0.5
    with pytest.raises(TypeError, match="rtol must be a number; got str '1e-3'"):
        check_positive_float("1e-3", "rtol")
    with pytest.raises(TypeError, match="rtol must be a number; got bool"):
        check_positive_float(True, "rtol")
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="rtol must be a finite positive number"):
            check_positive_float(bad, "rtol")


def test_check_number_allows_zero_and_negatives_but_not_inf():
    assert check_number(-2, "degree") == -2.0
    with pytest.raises(ValueError, match="degree must be a finite number; got inf"):
        check_number(math.inf, "degree")
    with pytest.raises(TypeError, match="degree must be a number; got NoneType"):
        check_number(None, "degree")


def test_check_int_and_check_callable():
    assert check_int(-1, "dim") == -1
    with pytest.raises(TypeError, match=r"dim must be an int; got float 1\.0"):
        check_int(1.0, "dim")
    assert check_callable(abs) is abs
    with pytest.raises(TypeError, match="fn must be a callable"):
        check_callable(3)


def test_values_readable_is_false_on_meta_and_while_compiling():
    assert values_readable(torch.ones(2))
    assert not values_readable(torch.ones(2, device="meta"))

    def traced(t):
        return t * 2 if values_readable(t) else t * 3

    compiled = torch.compile(traced, backend="eager", fullgraph=True)
    assert compiled(torch.ones(2)).tolist() == [3.0, 3.0]
