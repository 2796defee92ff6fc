"""The public API, and the contract every layer keeps (one table, every layer).

Per layer: gradcheck and gradgradcheck (input and parameters), torch.func (vmap, jacrev,
hessian) against plain autograd, dtype and device follow the input, a state_dict round
trip through ``torch.load(weights_only=True)``, NaN in gives NaN out, repr and docstring.
torch.compile is the one slow test (inductor compiles C++ per layer on the CPU).
"""

import importlib.metadata
import io
import pathlib
import re

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck
from torch.func import functional_call, hessian, jacrev, vmap

import symnn
import symnn.functional
import symnn.testing


def small(d_in, d_out):
    """A smooth net, so derivatives of every order exist away from the layers' own kinks."""
    return symnn.MLP(d_in, d_out, hidden=(6, 6), activation="tanh")


def neg_half_l1(x):
    return -0.5 * x.abs().sum(-1)


EQUIVARIANT_GROUP = symnn.Permutation(3, equivariant=True) * symnn.Parity(-1)

# name -> a layer mapping (..., 3) to (..., k); the SO3Exp head is tested in test_so3.py.
LAYERS = {
    "MLP": lambda: small(3, 2),
    "Odd": lambda: symnn.Odd(small(3, 2)),
    "Even": lambda: symnn.Even(small(3, 2)),
    "PermutationSort": lambda: symnn.PermutationSort(small(3, 2)),
    "ScaleNormalize[sum,2]": lambda: symnn.ScaleNormalize(small(3, 2), 2),
    "ScaleNormalize[norm,1.5]": lambda: symnn.ScaleNormalize(small(3, 2), 1.5, scale="norm"),
    "ScaleNormalize[max,-1]": lambda: symnn.ScaleNormalize(small(3, 2), -1, scale="max"),
    "ScaleNormalize[callable,0]": lambda: symnn.ScaleNormalize(small(3, 2), 0, scale=neg_half_l1),
    "ScaleNormalize(PermutationSort)": lambda: symnn.ScaleNormalize(symnn.PermutationSort(small(3, 1)), 2),
    "Symmetrize": lambda: symnn.Symmetrize(small(3, 3), EQUIVARIANT_GROUP),
    "PhysicsResidual": lambda: symnn.PhysicsResidual(torch.nn.Linear(3, 2), symnn.Odd(small(3, 2))),
}


def make(name, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return LAYERS[name]().to(dtype)


def inputs(n=5, dtype=torch.float64, seed=0):
    """Generic rows: no ties, no zeros, no |x| kinks."""
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.fixture(params=list(LAYERS))
def name(request):
    return request.param


# --- derivatives -------------------------------------------------------------------------


def test_gradcheck_and_gradgradcheck_in_the_input(name):
    model = make(name)
    x = inputs().requires_grad_()
    assert gradcheck(model, (x,))
    assert gradgradcheck(model, (x,))


def test_gradcheck_in_the_parameters(name):
    model = make(name)
    names, params = zip(*[(k, p.detach().requires_grad_()) for k, p in model.named_parameters()])
    x = inputs()
    assert gradcheck(lambda *ps: functional_call(model, dict(zip(names, ps)), (x,)), params)


def test_torch_func_agrees_with_autograd(name):
    model = make(name)
    x = inputs(4).requires_grad_()
    out = model(x)
    per_row = vmap(model)(x.detach())
    torch.testing.assert_close(per_row, out.detach(), rtol=1e-12, atol=1e-12)

    jac = vmap(jacrev(model))(x.detach())  # (n, k, 3)
    jac_autograd = torch.stack(
        [torch.autograd.grad(out[:, j].sum(), x, retain_graph=True)[0] for j in range(out.shape[-1])], dim=1
    )
    torch.testing.assert_close(jac, jac_autograd, rtol=1e-12, atol=1e-12)

    hess = vmap(hessian(lambda t: model(t).sum()))(x.detach())  # (n, 3, 3)
    (grad,) = torch.autograd.grad(model(x).sum(), x, create_graph=True)
    hess_autograd = torch.stack(
        [torch.autograd.grad(grad[:, k].sum(), x, retain_graph=True)[0] for k in range(3)], dim=1
    )
    torch.testing.assert_close(hess, hess_autograd, rtol=1e-12, atol=1e-12)


# --- dtype, device, state_dict, NaN --------------------------------------------------------


def test_dtype_and_device_follow_the_input(name, dtype, device):
    model = make(name, dtype=dtype).to(device)
    x = inputs(7, dtype=dtype).to(device).requires_grad_()
    out = model(x)
    assert out.dtype == dtype and out.device.type == device
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert grad.dtype == dtype and grad.device.type == device and torch.isfinite(grad).all()


def test_state_dict_round_trip_gives_bit_identical_outputs(name, dtype):
    trained, fresh = make(name, seed=0, dtype=dtype), make(name, seed=1, dtype=dtype)
    x = inputs(9, dtype=dtype)
    assert not torch.equal(fresh(x), trained(x))  # the check below is live
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(fresh(x), trained(x))


def test_nan_in_gives_nan_out_in_that_row_only(name, dtype):
    model = make(name, dtype=dtype)
    x = inputs(4, dtype=dtype)
    x[1, 2] = float("nan")
    out = model(x)
    assert torch.isnan(out[1]).all()
    assert not torch.isnan(out[[0, 2, 3]]).any()


@pytest.mark.parametrize(
    "layer, sym",
    [
        (lambda: symnn.Odd(symnn.MLP(3, 2)), symnn.Parity(-1)),
        (lambda: symnn.Even(symnn.MLP(3, 2)), symnn.Parity(1)),
        (lambda: symnn.PermutationSort(symnn.MLP(3, 2)), symnn.Permutation(3)),
        (lambda: symnn.Symmetrize(symnn.MLP(3, 3, hidden=(32, 32)), EQUIVARIANT_GROUP), EQUIVARIANT_GROUP),
    ],
    ids=["Odd", "Even", "PermutationSort", "Symmetrize"],
)
def test_exact_layers_are_exact_on_every_device(layer, sym, dtype, device, tied_inputs):
    torch.manual_seed(0)
    model = layer().to(device=device, dtype=dtype)
    x = tied_inputs(1000, 3, dtype).to(device)
    assert symnn.testing.assert_equivariant(model, sym, x, rtol=0.0) == 0.0


# --- repr and docstrings -------------------------------------------------------------------

SETTINGS_IN_REPR = {
    "MLP": "in_features=3, out_features=2, hidden=(6, 6), activation='tanh'",
    "PermutationSort": "dim=-1, descending=True",
    "ScaleNormalize[sum,2]": "degree=2, scale='sum'",
    "ScaleNormalize[callable,0]": "degree=0, scale='neg_half_l1'",
    "Symmetrize": "sym=Permutation(3, equivariant=True) * Parity(sign=-1), order=12",
    "PhysicsResidual": "train_baseline=True",
    "Odd": "Odd(\n  (net): MLP(",  # no settings of its own: the wrapped net is shown
    "Even": "Even(\n  (net): MLP(",
}


@pytest.mark.parametrize("layer_name, shown", SETTINGS_IN_REPR.items(), ids=list(SETTINGS_IN_REPR))
def test_repr_shows_the_settings(layer_name, shown):
    assert shown in repr(make(layer_name))


LAYER_CLASSES = [symnn.Odd, symnn.Even, symnn.PermutationSort, symnn.ScaleNormalize, symnn.Symmetrize]


@pytest.mark.parametrize(
    "cls", [*LAYER_CLASSES, symnn.SO3Exp, symnn.PhysicsResidual, symnn.MLP], ids=lambda c: c.__name__
)
def test_layer_docstrings_give_a_formula_shapes_and_an_example(cls):
    doc = cls.__doc__
    assert ":math:" in doc or ".. math::" in doc, "the formula"
    assert re.search(r"``\(\.\.\., \w+\) -> ", doc), "the shapes, as (..., d) -> ..."
    assert "Examples\n    --------\n    >>>" in doc, "a runnable example (run as a doctest)"


@pytest.mark.parametrize("cls", LAYER_CLASSES, ids=lambda c: c.__name__)
def test_symmetric_layers_state_their_guarantee(cls):
    guarantee = " ".join(cls.__doc__.split("Guarantee:")[1].split("\n\n")[0].split())
    assert ":math:" in guarantee
    assert ("to rounding" if cls is symnn.ScaleNormalize else "exactly") in guarantee


MY_FUNCTIONS = ["odd_part", "even_part", "sort_canonical", "input_scale", "scale_normalize", "symmetrize"]


@pytest.mark.parametrize(
    "fn_name", [*MY_FUNCTIONS, "order_free_mean", "so3_exp", "so3_log", "hat", "vee", "heron_area"]
)
def test_functional_forms_have_a_formula_or_guarantee_and_an_example(fn_name):
    doc = getattr(symnn.functional, fn_name).__doc__
    assert ":math:" in doc or ".. math::" in doc or "Guarantee" in doc
    assert "Examples\n    --------\n    >>>" in doc


# --- the package ----------------------------------------------------------------------------


@pytest.mark.parametrize("module", [symnn, symnn.functional, symnn.testing], ids=lambda m: m.__name__)
def test_every_name_in_all_exists_once(module):
    assert len(module.__all__) == len(set(module.__all__))
    for public in module.__all__:
        assert getattr(module, public) is not None


def test_the_contract_names_of_the_design_are_public():
    for public in [
        "Symmetry",
        "Parity",
        "Permutation",
        "Scaling",
        "Rotation",
        "Odd",
        "Even",
        "PermutationSort",
    ]:
        assert public in symnn.__all__
    for public in [
        "ScaleNormalize",
        "Symmetrize",
        "SO3Exp",
        "PhysicsResidual",
        "MLP",
        "functional",
        "testing",
    ]:
        assert public in symnn.__all__
    assert {"odd_part", "even_part", "sort_canonical", "hat", "vee", "so3_exp", "so3_log"} <= set(
        symnn.functional.__all__
    )
    assert {"equivariance_error", "assert_equivariant"} <= set(symnn.testing.__all__)


def test_the_version_lives_in_one_place():
    root = pathlib.Path(symnn.__file__).parent
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", symnn.__version__)
    assert (root / "_version.py").read_text().strip() == f'__version__ = "{symnn.__version__}"'
    setup = (root.parent / "setup.py").read_text()
    assert "_version.py" in setup and symnn.__version__ not in setup  # read, not repeated
    assert importlib.metadata.version("symnn") == symnn.__version__


def test_the_package_is_typed():
    root = pathlib.Path(symnn.__file__).parent
    assert (root / "py.typed").is_file()
    assert '"py.typed"' in (root.parent / "setup.py").read_text()


# --- torch.compile (slow: inductor generates and compiles C++ for every layer) ---------------

COMPILED = {
    "MLP": lambda: small(3, 2),
    "Odd": lambda: symnn.Odd(small(3, 2)),
    "Even": lambda: symnn.Even(small(3, 2)),
    "PermutationSort": lambda: symnn.PermutationSort(small(3, 2)),
    "ScaleNormalize(PermutationSort)": lambda: symnn.ScaleNormalize(symnn.PermutationSort(small(3, 1)), 2),
    # Two elements: every element unrolls into the graph, and compile time grows with them.
    "Symmetrize": lambda: symnn.Symmetrize(small(3, 2), symnn.Parity(-1)),
    "PhysicsResidual": lambda: symnn.PhysicsResidual(torch.nn.Linear(3, 2), symnn.Odd(small(3, 2))),
}


@pytest.mark.slow
@pytest.mark.parametrize("layer_name", list(COMPILED))
def test_compiled_layer_matches_eager(layer_name):
    torch.manual_seed(0)
    model = COMPILED[layer_name]()
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    x = (torch.rand(32, 3, generator=torch.Generator().manual_seed(0)) + 0.1).requires_grad_()
    out, out_eager = compiled(x), model(x)
    torch.testing.assert_close(out, out_eager, rtol=1e-5, atol=1e-5)
    (grad,) = torch.autograd.grad(out.sum(), x)
    (grad_eager,) = torch.autograd.grad(out_eager.sum(), x)
    torch.testing.assert_close(grad, grad_eager, rtol=1e-5, atol=1e-5)
