"""Odd and Even: exact parity for any net and batch layout, the functional forms, errors.

Derivatives, torch.func, compile, state_dict, dtype/device and NaN propagation of the
layers are checked for every layer at once in test_package.py.
"""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import symnn
from symnn.functional import even_part, odd_part

PARITY_LAYERS = [pytest.param(symnn.Odd, -1, id="Odd"), pytest.param(symnn.Even, +1, id="Even")]


@pytest.mark.parametrize("layer, sign", PARITY_LAYERS)
@pytest.mark.parametrize("d_in, d_out", [(1, 1), (3, 2)])
def test_parity_is_exact_on_1000_inputs_with_zeros(layer, sign, d_in, d_out, dtype, num_threads, tied_inputs):
    torch.manual_seed(0)
    model = layer(symnn.MLP(d_in, d_out)).to(dtype)
    x = tied_inputs(1000, d_in, dtype)
    assert symnn.testing.assert_equivariant(model, symnn.Parity(sign), x, rtol=0.0) == 0.0


@pytest.mark.parametrize("layer, sign", PARITY_LAYERS)
@pytest.mark.parametrize(
    "shape", [(1, 3), (7, 3), (13, 3), (999, 3), (1001, 3), (4001, 3), (3,), (4, 25, 3), (2, 3, 5, 3)]
)
def test_parity_is_exact_for_any_batch_shape(layer, sign, shape, dtype):
    # Batch sizes that are not multiples of the GEMM blocking (8, 16) give rows in the
    # vectorised tail; the two calls of net see the same shape, so the tails coincide.
    torch.manual_seed(1)
    model = layer(symnn.MLP(3, 2, hidden=(32, 32))).to(dtype)
    x = torch.randn(shape, dtype=dtype)
    assert symnn.testing.assert_equivariant(model, symnn.Parity(sign), x, rtol=0.0) == 0.0


@pytest.mark.parametrize("layer, sign", PARITY_LAYERS)
def test_parity_is_exact_for_strided_and_misaligned_inputs(layer, sign, dtype):
    torch.manual_seed(2)
    model = layer(symnn.MLP(3, 1, hidden=(32, 32))).to(dtype)
    transposed = torch.randn(3, 257, dtype=dtype).T
    buffer = torch.randn(257 * 3 + 1, dtype=dtype)
    misaligned = buffer[1:].view(257, 3)  # 4 or 8 bytes off the allocator's alignment
    for x in (transposed, misaligned):
        assert symnn.testing.assert_equivariant(model, symnn.Parity(sign), x, rtol=0.0) == 0.0
        torch.testing.assert_close(model(x), model(x.clone()), rtol=0, atol=0)


@pytest.mark.parametrize("layer, sign", PARITY_LAYERS)
def test_parity_is_exact_even_for_a_net_that_mixes_rows(layer, sign, dtype):
    # Batch statistics couple the rows; f(-x) still reuses the two batches x and -x.
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
    )
    model = layer(net).to(dtype).train()
    x = torch.randn(257, 2, dtype=dtype)
    assert symnn.testing.assert_equivariant(model, symnn.Parity(sign), x, rtol=0.0) == 0.0


def test_odd_and_even_parts_add_up_to_the_function(dtype):
    x = torch.linspace(-3, 3, 61, dtype=dtype).reshape(61, 1)
    torch.testing.assert_close(odd_part(torch.exp, x), torch.sinh(x))
    torch.testing.assert_close(even_part(torch.exp, x), torch.cosh(x))
    torch.testing.assert_close(odd_part(torch.exp, x) + even_part(torch.exp, x), torch.exp(x))


def test_odd_of_an_odd_function_is_the_function_itself():
    # Nothing is lost: an odd g is its own odd part (exactly, for tanh: tanh(-x) = -tanh(x)).
    x = torch.randn(100, 4, dtype=torch.float64)
    assert torch.equal(odd_part(torch.tanh, x), torch.tanh(x))
    assert torch.equal(even_part(torch.cos, x), torch.cos(x))


@pytest.mark.parametrize("part", [odd_part, even_part])
def test_functional_parts_keep_leading_dimensions(part):
    net = symnn.MLP(3, 2, hidden=(8,))
    assert part(net, torch.randn(4, 5, 3)).shape == (4, 5, 2)
    assert part(net, torch.randn(3)).shape == (2,)


@pytest.mark.parametrize("part", [odd_part, even_part])
def test_functional_parts_pass_gradcheck_and_gradgradcheck(part):
    torch.manual_seed(4)
    net = symnn.MLP(3, 2, hidden=(6, 6), activation="tanh").double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: part(net, t), (x,))
    assert gradgradcheck(lambda t: part(net, t), (x,))


@pytest.mark.parametrize("layer", [symnn.Odd, symnn.Even])
def test_parity_layers_refuse_bad_arguments(layer):
    with pytest.raises(TypeError, match=r"nn\.Module"):
        layer(lambda x: x)
    model = layer(symnn.MLP(3, 1))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        model([[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match="floating"):
        model(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\); got \(2, 4\)"):
        model(torch.ones(2, 4))


@pytest.mark.parametrize("part", [odd_part, even_part])
def test_functional_parts_refuse_non_tensors(part):
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        part(torch.exp, 1.0)


@pytest.mark.parametrize("part", [odd_part, even_part])
def test_odd_part_of_3_names_the_function_argument(part):
    # Issue 10, item 9: the arguments swapped, odd_part(3, x), said "'int' object is not callable".
    with pytest.raises(TypeError, match=r"fn must be a callable .*got int"):
        part(3, torch.ones(2))
