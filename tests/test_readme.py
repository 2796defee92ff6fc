"""The README's Python snippets run, and do what the README says."""

from __future__ import annotations

import pathlib
import re

import torch

import symnn

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
_PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _blocks() -> list[str]:
    return _PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_its_three_python_snippets():
    blocks = _blocks()
    assert len(blocks) == 3
    assert "MyNet()" in blocks[0] and "FrameAverage" in blocks[1]
    assert "class TimeReversal(symnn.Symmetry)" in blocks[2]


def test_wrap_your_own_model_runs_with_any_net():
    class MyNet(torch.nn.Module):  # the reader's own network
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layers(x)

    torch.manual_seed(0)
    namespace = {"MyNet": MyNet}
    exec(_blocks()[0], namespace)  # raises if the promised check fails
    model = namespace["model"]
    assert isinstance(model, symnn.ScaleNormalize) and isinstance(model.net, symnn.PermutationSort)
    assert model.degree == 2 and isinstance(model.net.net, MyNet)


def test_the_custom_symmetry_works_with_every_tool():
    namespace = {"torch": torch, "symnn": symnn}
    exec(_blocks()[2], namespace)
    time_reversal = namespace["TimeReversal"]()
    torch.manual_seed(0)
    model = symnn.Symmetrize(symnn.MLP(4, 1), time_reversal).double()
    x = torch.randn(50, 4, dtype=torch.float64)
    assert symnn.testing.assert_equivariant(model, time_reversal, x, rtol=0.0) == 0.0
    assert symnn.symmetry_penalty(model, x, time_reversal, elements="all").item() == 0.0
    x_aug, y_aug = symnn.augment(x, torch.ones(50, 1, dtype=torch.float64), time_reversal)
    assert x_aug.shape == (100, 4) and set(y_aug.flatten().tolist()) == {1.0, -1.0}
    # Finite without a sampler of its own: enforce averages over it, the checker needs no sym.
    enforced = symnn.enforce(symnn.MLP(4, 1), time_reversal).double()
    assert isinstance(enforced, symnn.Symmetrize)
    assert symnn.testing.assert_equivariant(enforced, x, rtol=0.0) == 0.0
    assert len(time_reversal.sample(3)) == 3


def test_the_rotation_snippet_runs_and_its_model_is_exactly_equivariant():
    torch.manual_seed(0)
    namespace = {"torch": torch, "symnn": symnn}
    exec(_blocks()[1], namespace)  # raises if assert_equivariant fails
    assert isinstance(namespace["soft"], symnn.ResidualPathway)
    assert namespace["loss"].ndim == 0 and torch.isfinite(namespace["loss"])
