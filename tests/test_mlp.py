"""MLP: shapes, activations, settings in repr, errors."""

import pytest
import torch

import symnn


def test_shapes_with_any_leading_dimensions(dtype):
    net = symnn.MLP(3, 2, hidden=(16, 8)).to(dtype)
    for shape in [(3,), (5, 3), (2, 4, 3), (0, 3)]:
        out = net(torch.randn(shape, dtype=dtype))
        assert out.shape == (*shape[:-1], 2) and out.dtype == dtype


def test_the_default_is_the_lectures_three_layers_of_128():
    net = symnn.MLP(3, 1)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 128), (128, 128), (128, 128), (128, 1)]
    assert sum(isinstance(m, torch.nn.SiLU) for m in net.modules()) == 3
    assert sum(p.numel() for p in net.parameters()) == 3 * 128 + 128 + 2 * (128 * 128 + 128) + 128 + 1


@pytest.mark.parametrize("name", ["relu", "silu", "tanh", "gelu", "softplus", "elu", "Tanh"])
def test_named_activations(name):
    net = symnn.MLP(2, 1, hidden=(4,), activation=name)
    kind = type(net.layers[1]).__name__.lower()
    assert kind == name.lower()


def test_an_activation_class_or_factory_makes_one_module_per_layer():
    net = symnn.MLP(2, 1, hidden=(4, 4), activation=torch.nn.LeakyReLU)
    acts = [m for m in net.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert len(acts) == 2 and acts[0] is not acts[1]
    net = symnn.MLP(2, 1, hidden=(4,), activation=lambda: torch.nn.Softplus(beta=2.0))
    assert net.layers[1].beta == 2.0


def test_hidden_may_be_any_iterable_and_may_be_empty():
    assert symnn.MLP(2, 1, hidden=[4, 4]).hidden == (4, 4)
    assert symnn.MLP(2, 1, hidden=(w for w in (5,))).layers[0].out_features == 5
    linear = symnn.MLP(2, 3, hidden=())
    assert len(linear.layers) == 1 and linear(torch.ones(2)).shape == (3,)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(activation="swish"), ValueError, "unknown activation 'swish'; choose one of"),
        (dict(activation=torch.nn.ReLU()), TypeError, "class"),
        (dict(activation=3), TypeError, "activation must be a name or a callable"),
        (dict(hidden=(0,)), ValueError, "positive ints"),
        (dict(hidden=(2.5,)), ValueError, "positive ints"),
        (dict(hidden=(True,)), ValueError, "positive ints"),
    ],
)
def test_bad_settings_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        symnn.MLP(3, 1, **kwargs)
    with pytest.raises(ValueError, match="positive ints"):
        symnn.MLP(0, 1)


def test_bad_inputs_are_refused():
    net = symnn.MLP(3, 1, hidden=(4,))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        net([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"floating dtype; got torch\.int64"):
        net(torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"MLP input must have shape \(\.\.\., 3\); got \(2, 4\)"):
        net(torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\); got \(\)"):
        net(torch.tensor(1.0))


def test_repr_shows_the_settings():
    text = repr(symnn.MLP(3, 1, hidden=(8, 8), activation="tanh"))
    assert "in_features=3, out_features=1, hidden=(8, 8), activation='tanh'" in text
    assert "activation='LeakyReLU'" in repr(symnn.MLP(3, 1, activation=torch.nn.LeakyReLU))


def test_mlp_hidden_64_names_the_argument():
    # Issue 10, item 9: "'int' object is not iterable" did not say which argument.
    with pytest.raises(
        TypeError, match=r"hidden must be a sequence of layer widths, e.g. \(64,\).*got int 64"
    ):
        symnn.MLP(3, 1, hidden=64)
    with pytest.raises(TypeError, match="hidden must be a sequence"):
        symnn.MLP(3, 1, hidden="64")
