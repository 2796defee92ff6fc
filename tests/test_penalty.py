"""Learning bias: symmetry_penalty, SymmetryPenalty and their sums."""

import pytest
import torch

import symnn

DTYPES = [torch.float32, torch.float64]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def mlp(d_in, d_out, dtype, seed=0, hidden=(32, 32)):
    torch.manual_seed(seed)
    return symnn.MLP(d_in, d_out, hidden=hidden, activation="silu").to(dtype)


def triangles(n, dtype, seed=0):
    x = 0.2 + 0.8 * torch.rand(n, 3, generator=gen(seed), dtype=torch.float64)
    return x.to(dtype)


class CountingModel(torch.nn.Module):
    """Counts forward calls and the rows they see."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = []

    def forward(self, x):
        self.calls.append(x.shape[0])
        return self.net(x)


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [64, 37])  # 37: a batch size whose kernels treat rows by position
def test_penalty_is_exactly_zero_for_models_made_symmetric_by_layers(dtype, n):
    x = triangles(n, dtype)
    cases = [
        (symnn.PermutationSort(mlp(3, 1, dtype)), symnn.Permutation(3), dict(elements="all")),
        (symnn.PermutationSort(mlp(3, 1, dtype)), symnn.Permutation(3), dict(n_elements=3)),
        (
            symnn.Symmetrize(mlp(3, 2, dtype), symnn.Permutation(3)),
            symnn.Permutation(3),
            dict(elements="all"),
        ),
        (symnn.Odd(mlp(3, 2, dtype)), symnn.Parity(-1), dict(elements="all")),
        (symnn.Even(mlp(3, 1, dtype)), symnn.Parity(1), dict(n_elements=2)),
    ]
    for model, sym, options in cases:
        penalty = symnn.symmetry_penalty(model, x, sym, generator=gen(), **options)
        assert penalty.item() == 0.0, (model, sym, options)
        assert penalty.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_of_a_scale_normalized_model_is_zero_to_rounding(dtype):
    # f(λx) = λ² g(λx / s(λx)): the normalised input agrees to a few ulps, not bit for bit.
    x = triangles(64, dtype)
    model = symnn.ScaleNormalize(symnn.PermutationSort(mlp(3, 1, dtype)), degree=2)
    sym = symnn.Permutation(3) * symnn.Scaling(degree=2)
    penalty = symnn.symmetry_penalty(model, x, sym, n_elements=3, generator=gen())
    scale = model(x).square().mean()
    eps = torch.finfo(dtype).eps
    assert penalty.item() <= (50 * eps) ** 2 * scale.item()
    plain = symnn.symmetry_penalty(mlp(3, 1, dtype), x, sym, n_elements=3, generator=gen())
    assert plain.item() > 1e-6 * scale.item()


@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_is_positive_for_a_plain_mlp(dtype):
    x = triangles(64, dtype)
    for sym in [symnn.Permutation(3), symnn.Parity(-1), symnn.Scaling(2)]:
        options = dict(elements="all") if sym.is_finite else {}
        assert symnn.symmetry_penalty(mlp(3, 1, dtype), x, sym, **options).item() > 0


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("dtype", DTYPES)
def test_full_orbit_penalty_against_labels_is_the_lectures_sum(dtype):
    x = triangles(20, dtype)
    y = torch.rand(20, 1, generator=gen(1), dtype=torch.float64).to(dtype)
    model = mlp(3, 1, dtype)
    perms = symnn.Permutation(3).elements()
    lecture = sum(((y - model(x[:, p])) ** 2).sum() for p in perms[1:])
    ours = symnn.symmetry_penalty(model, x, symnn.Permutation(3), y, elements="all", reduction="sum")
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(ours, lecture, **tol)
    mean = symnn.symmetry_penalty(model, x, symnn.Permutation(3), y, elements="all")
    torch.testing.assert_close(mean, lecture / (5 * 20), **tol)


def test_listed_elements_and_the_three_reductions():
    x = triangles(10, torch.float64)
    model = mlp(3, 2, torch.float64)
    sym = symnn.Permutation(3)
    listed = [torch.tensor([1, 0, 2]), torch.tensor([2, 1, 0])]
    fx = model(x)
    expected = torch.stack([(model(x[:, p]) - fx) ** 2 for p in listed])
    none = symnn.symmetry_penalty(model, x, sym, elements=listed, reduction="none")
    assert none.shape == (2, 10, 2)
    torch.testing.assert_close(none, expected, rtol=1e-12, atol=0)
    total = symnn.symmetry_penalty(model, x, sym, elements=listed, reduction="sum")
    mean = symnn.symmetry_penalty(model, x, sym, elements=listed)
    torch.testing.assert_close(total, expected.sum(), rtol=1e-12, atol=0)
    torch.testing.assert_close(mean, expected.mean(), rtol=1e-12, atol=0)


def test_chunk_sizes_change_the_calls_not_the_value():
    x = triangles(40, torch.float64)
    model = CountingModel(mlp(3, 1, torch.float64))
    sym = symnn.Permutation(3)
    default = symnn.symmetry_penalty(model, x, sym, elements="all")
    assert model.calls == [40] * 6  # f(x), then one call per copy, each shaped like x
    model.calls.clear()
    one_pass = symnn.symmetry_penalty(model, x, sym, elements="all", chunk_size=200)
    assert model.calls == [40, 200]
    model.calls.clear()
    odd = symnn.symmetry_penalty(model, x, sym, elements="all", chunk_size=70)
    assert model.calls == [40, 70, 70, 60]
    torch.testing.assert_close(one_pass, default, rtol=1e-12, atol=0)
    torch.testing.assert_close(odd, default, rtol=1e-12, atol=0)


def test_stochastic_penalty_costs_one_call_per_sampled_element_given_labels_or_output():
    x = triangles(30, torch.float64)
    y = torch.rand(30, 1, dtype=torch.float64)
    model = CountingModel(mlp(3, 1, torch.float64))
    sym = symnn.Scaling(degree=2)
    symnn.symmetry_penalty(model, x, sym, y, n_elements=2)
    assert model.calls == [30, 30]
    model.calls.clear()
    out = model(x)
    symnn.symmetry_penalty(model, x, sym, output=out)
    assert model.calls == [30, 30]


def test_stochastic_penalty_draws_afresh_and_reproduces_with_a_seed():
    x = triangles(30, torch.float64)
    model = mlp(3, 1, torch.float64)
    sym = symnn.Scaling(degree=2)
    g = gen(3)
    first = symnn.symmetry_penalty(model, x, sym, generator=g)
    second = symnn.symmetry_penalty(model, x, sym, generator=g)
    assert first.item() != second.item()
    again = symnn.symmetry_penalty(model, x, sym, generator=gen(3))
    assert first.item() == again.item()


def test_gradient_flows_through_both_sides_unless_the_output_is_detached():
    x = triangles(16, torch.float64)
    model = mlp(3, 1, torch.float64)
    sym = symnn.Parity(-1)
    weight = model.layers[0].weight

    def grad_of(value):
        (g,) = torch.autograd.grad(value, weight)
        return g

    ours = grad_of(symnn.symmetry_penalty(model, x, sym, elements="all"))
    by_hand = grad_of(((model(-x) + model(x)) ** 2).mean())
    torch.testing.assert_close(ours, by_hand, rtol=1e-12, atol=1e-15)
    detached = grad_of(symnn.symmetry_penalty(model, x, sym, elements="all", output=model(x).detach()))
    by_hand_detached = grad_of(((model(-x) + model(x).detach()) ** 2).mean())
    torch.testing.assert_close(detached, by_hand_detached, rtol=1e-12, atol=1e-15)
    assert not torch.allclose(detached, ours)


def test_gradcheck_through_the_penalty():
    x = triangles(5, torch.float64)
    model = mlp(3, 1, torch.float64, hidden=(4,))
    params = dict(model.named_parameters())
    names = list(params)
    elements = [torch.tensor([1, 2, 0])]

    def penalty(*values):
        def f(inputs):
            return torch.func.functional_call(model, dict(zip(names, values)), (inputs,))

        return symnn.symmetry_penalty(f, x, symnn.Permutation(3), elements=elements)

    values = tuple(p.detach().clone().requires_grad_() for p in params.values())
    assert torch.autograd.gradcheck(penalty, values)


def test_a_few_steps_on_the_penalty_reduce_the_violation():
    x = triangles(64, torch.float64)
    model = mlp(3, 1, torch.float64, hidden=(8,))
    sym = symnn.Permutation(3)
    before = symnn.testing.equivariance_error(model, sym, x)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        opt.zero_grad()
        symnn.symmetry_penalty(model, x, sym, elements="all").backward()
        opt.step()
    assert symnn.testing.equivariance_error(model, sym, x) < 0.5 * before


# --------------------------------------------------------------------------- bad input


def test_a_symmetry_that_does_not_fit_x_is_named():
    x = triangles(8, torch.float64)
    with pytest.raises(ValueError, match=r"Permutation\(4\).*shape \(8, 3\)"):
        symnn.symmetry_penalty(mlp(3, 1, torch.float64), x, symnn.Permutation(4), elements="all")


def test_targets_of_the_wrong_shape_are_named():
    x = triangles(8, torch.float64)
    model = mlp(3, 1, torch.float64)
    y = torch.rand(8, dtype=torch.float64)
    with pytest.raises(
        ValueError, match=r"y has shape \(8,\), but the model's output on x has shape \(8, 1\)"
    ):
        symnn.symmetry_penalty(model, x, symnn.Permutation(3), y, elements="all")
    with pytest.raises(ValueError, match=r"y must have one row per sample"):
        symnn.symmetry_penalty(model, x, symnn.Permutation(3), y[:5, None], elements="all")


def test_all_elements_of_an_infinite_group_is_a_clear_error():
    x = triangles(8, torch.float64)
    with pytest.raises(symnn.InfiniteGroupError, match=r"infinite.*n_elements"):
        symnn.symmetry_penalty(mlp(3, 1, torch.float64), x, symnn.Scaling(2), elements="all")
    with pytest.raises(symnn.InfiniteGroupError, match="infinite"):
        symnn.SymmetryPenalty(symnn.Rotation("1o", "0e"), elements="all")


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(reduction="average"), "reduction"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(n_elements=0), "n_elements"),
        (dict(elements="some"), "elements"),
        (dict(elements=[]), "elements"),
    ],
)
def test_bad_options_are_refused(options, match):
    x = triangles(8, torch.float64)
    with pytest.raises(ValueError, match=match):
        symnn.symmetry_penalty(mlp(3, 1, torch.float64), x, symnn.Permutation(3), **options)


def test_labels_and_output_together_are_refused():
    x = triangles(8, torch.float64)
    model = mlp(3, 1, torch.float64)
    with pytest.raises(ValueError, match="not both"):
        symnn.symmetry_penalty(model, x, symnn.Permutation(3), model(x), output=model(x))


# --------------------------------------------------------------------------- module form


def test_module_form_weights_the_penalty_and_terms_add_up():
    x = triangles(16, torch.float64)
    y = torch.rand(16, 1, dtype=torch.float64)
    model = mlp(3, 1, torch.float64)
    perm, parity = symnn.Permutation(3), symnn.Parity(-1)
    p1 = symnn.SymmetryPenalty(perm, weight=0.5, elements="all")
    p2 = symnn.SymmetryPenalty(parity, weight=0.25, elements="all")
    ref1 = symnn.symmetry_penalty(model, x, perm, y, elements="all")
    ref2 = symnn.symmetry_penalty(model, x, parity, y, elements="all")
    torch.testing.assert_close(p1(model, x, y), 0.5 * ref1)
    both = p1 + p2
    assert isinstance(both, symnn.SymmetryPenaltySum)
    torch.testing.assert_close(both(model, x, y), 0.5 * ref1 + 0.25 * ref2)
    torch.testing.assert_close(sum([p1, p2])(model, x, y), both(model, x, y))
    assert len((both + p1).terms) == 3
    assert "weight=0.5" in repr(both) and "elements='all'" in repr(both)


def test_a_sum_without_labels_evaluates_the_model_on_x_once():
    x = triangles(16, torch.float64)
    model = CountingModel(mlp(3, 1, torch.float64))
    both = symnn.SymmetryPenalty(symnn.Permutation(3), elements="all") + symnn.SymmetryPenalty(
        symnn.Scaling(2), n_elements=1
    )
    both(model, x)
    assert model.calls == [16] * (1 + 5 + 1)


def test_module_form_refuses_bad_terms():
    term = symnn.SymmetryPenalty(symnn.Permutation(3), reduction="none")
    with pytest.raises(ValueError, match="none"):
        term + symnn.SymmetryPenalty(symnn.Parity(-1))
    with pytest.raises(TypeError, match="SymmetryPenalty"):
        symnn.SymmetryPenalty(symnn.Parity(-1)) + 1.0
    with pytest.raises(TypeError, match="weight"):
        symnn.SymmetryPenalty(symnn.Parity(-1), weight="big")


# --------------------------------------------------------------------------- memory (issue 10, item 10)


def _penalty_and_gradients(model, x, y=None, **kwargs):
    model.zero_grad(set_to_none=True)
    value = symnn.symmetry_penalty(
        model, x, symnn.Permutation(3) * symnn.Parity(-1), y, elements="all", **kwargs
    )
    value.backward()
    return value.detach(), [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("labels", [False, True])
def test_issue10_item10_checkpointed_penalty_has_the_plain_value_and_gradient(dtype, labels):
    x = triangles(40, dtype) - 0.5
    y = torch.rand(40, 1, generator=gen(3), dtype=dtype) if labels else None
    model = CountingModel(mlp(3, 1, dtype))
    plain = _penalty_and_gradients(model, x, y, checkpoint=False)
    plain_calls = len(model.calls)
    model.calls.clear()
    checkpointed = _penalty_and_gradients(model, x, y, checkpoint=True)
    # 11 copies, each run again during backward: the checkpointing happened.
    assert len(model.calls) == plain_calls + 11
    assert torch.equal(checkpointed[0], plain[0])
    for got, expected in zip(checkpointed[1], plain[1]):
        assert expected.abs().max() > 0
        torch.testing.assert_close(got, expected, rtol=1e-12 if dtype == torch.float64 else 1e-5, atol=0)


def test_issue10_item10_automatic_checkpointing_past_the_threshold(monkeypatch):
    import symnn._orbit as orbit

    x = triangles(40, torch.float64)
    model = CountingModel(mlp(3, 1, torch.float64))
    plain = _penalty_and_gradients(model, x)  # far below 256 MiB: plain calls
    assert len(model.calls) == 12  # model(x) and 11 copies, none run again
    model.calls.clear()
    monkeypatch.setattr(orbit, "CHECKPOINT_BYTES", 1024)
    automatic = _penalty_and_gradients(model, x)
    # The first copy (measured) is plain; the other 10 are run again in backward.
    assert len(model.calls) == 12 + 10
    assert torch.equal(automatic[0], plain[0])
    for got, expected in zip(automatic[1], plain[1]):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


def test_issue10_item10_checkpointed_penalty_bounds_the_bytes_saved_for_backward():
    # Saved tensors counted outside the checkpointed calls: the plain penalty saves the
    # activations of its 6 calls (model(x) and 5 copies); with checkpoint=True only
    # model(x)'s activations and the copies' outputs are saved (the checkpointed calls
    # hold their own inputs, 12 KiB each here).
    def saved_bytes(checkpoint):
        storages = {}

        def pack(t):
            if not (t.requires_grad and t.grad_fn is None):
                storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
            return t

        x = triangles(500, torch.float64)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            symnn.symmetry_penalty(
                mlp(3, 1, torch.float64), x, symnn.Permutation(3), elements="all", checkpoint=checkpoint
            )
        return sum(storages.values())

    plain, checkpointed = saved_bytes(False), saved_bytes(True)
    assert plain > 5 * 500 * 32 * 8 * 2  # two hidden activations of 32 per copy, at least
    assert checkpointed < plain / 4


def test_issue10_item10_checkpointed_penalty_keeps_double_backward():
    x = triangles(16, torch.float64).requires_grad_()
    model = mlp(3, 1, torch.float64)
    results = []
    for checkpoint in (False, True):
        model.zero_grad(set_to_none=True)
        value = symnn.symmetry_penalty(model, x, symnn.Permutation(3), elements="all", checkpoint=checkpoint)
        (dx,) = torch.autograd.grad(value, x, create_graph=True)
        dx.square().sum().backward()
        results.append([dx.detach(), *(p.grad.clone() for p in model.parameters())])
    assert results[0][0].abs().max() > 0 and results[0][1].abs().max() > 0
    for got, expected in zip(*results):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=0)


def test_issue10_item10_automatic_choice_stays_plain_under_torch_func(monkeypatch):
    import symnn._orbit as orbit

    monkeypatch.setattr(orbit, "CHECKPOINT_BYTES", 0)  # would checkpoint, but torch.func refuses it
    model = mlp(3, 1, torch.float64)
    params = dict(model.named_parameters())
    x = triangles(16, torch.float64)

    def penalty(p):
        call = lambda t: torch.func.functional_call(model, p, (t,))  # noqa: E731
        return symnn.symmetry_penalty(call, x, symnn.Permutation(3), elements="all")

    grads = torch.func.grad(penalty)(params)
    value = penalty(params)
    expected = torch.autograd.grad(value, list(params.values()))
    for name, e in zip(params, expected):
        torch.testing.assert_close(grads[name], e, rtol=1e-12, atol=0)


def test_issue10_item10_checkpoint_must_be_a_bool_or_none():
    x = triangles(4, torch.float32)
    with pytest.raises(TypeError, match="checkpoint must be None"):
        symnn.symmetry_penalty(mlp(3, 1, torch.float32), x, symnn.Permutation(3), checkpoint="yes")
    with pytest.raises(TypeError, match="checkpoint must be None"):
        symnn.SymmetryPenalty(symnn.Permutation(3), checkpoint=1)


def test_issue10_item9_penalty_names_model_and_weight():
    with pytest.raises(TypeError, match="model must be a callable"):
        symnn.symmetry_penalty(3, triangles(4, torch.float32), symnn.Permutation(3))
    with pytest.raises(TypeError, match="weight must be a number; got str"):
        symnn.SymmetryPenalty(symnn.Permutation(3), weight="0.5")
    with pytest.raises(ValueError, match="weight must be a finite number"):
        symnn.SymmetryPenalty(symnn.Permutation(3), weight=float("nan"))
