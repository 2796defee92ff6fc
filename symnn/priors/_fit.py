"""Fit a module's free constants: closed-form least squares where they enter linearly, else L-BFGS."""

from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass, field

import sympy
import torch
from torch import nn

from symnn._checks import check_module, check_tensor
from symnn.priors._least_squares import least_squares
from symnn.priors._sympy_module import SympyModule
from symnn.priors._translate import TorchProgram

__all__ = ["fit_constants", "FitResult"]

_METHODS = ("auto", "linear", "lbfgs")


@dataclass
class FitResult:
    """What :func:`fit_constants` did; unpacks as ``module, residual = result``.

    Attributes
    ----------
    module : nn.Module
        The fitted module (the one passed in, with its constants updated in place).
    residual : float
        Root-mean-square residual :math:`\\sqrt{\\overline{(f(x) - y)^2}}` after the fit.
    method : str
        ``"linear"`` (closed form), ``"linear-in-root"`` (closed form on
        :math:`y^k` for :math:`f = \\sqrt[k]{\\cdot}` of a linear form), either with
        ``"+lbfgs"`` when refined, or ``"lbfgs"``.
    constants : dict of str to float
        The fitted constants (for a :class:`SympyModule`; empty otherwise).
    dropped : int
        Rows left out as outside the expression's domain (only with
        ``drop_invalid=True``; 0 otherwise).

    Examples
    --------
    >>> import torch
    >>> from symnn import priors
    >>> x = torch.linspace(0.1, 1.0, 50, dtype=torch.float64)[:, None]
    >>> law = priors.spring()
    >>> module = priors.SympyModule(law.expr, law.symbols, law.constants)
    >>> result = priors.fit_constants(module, x, 2 * x + x**3)
    >>> result.method, round(result.constants["C1"], 9), round(result.constants["C2"], 9)
    ('linear', 2.0, 1.0)
    """

    module: nn.Module
    residual: float
    method: str
    constants: dict[str, float] = field(default_factory=dict)
    dropped: int = 0

    def __iter__(self):
        return iter((self.module, self.residual))


@dataclass(frozen=True)
class _LinearForm:
    """``f = (offset + sum_j C_j feature_j) ** (1 / root)``; the program gives [offset, *features]."""

    root: int
    program: TorchProgram


# Analysing an expression with sympy costs milliseconds; do it once per module and set of
# free constants, not once per fit.
_FORMS: weakref.WeakKeyDictionary[SympyModule, dict[tuple[str, ...], _LinearForm | None]] = (
    weakref.WeakKeyDictionary()
)


def _affine_parts(expr: sympy.Expr, free: tuple[sympy.Symbol, ...]) -> list[sympy.Expr] | None:
    """``[offset, d expr/d C_1, ...]`` if ``expr`` is affine in the free constants, else None."""
    features = [sympy.diff(expr, c) for c in free]
    if any(f.free_symbols & set(free) for f in features):
        return None
    return [expr.subs(dict.fromkeys(free, 0)), *features]


def _linear_form(module: SympyModule, free: tuple[sympy.Symbol, ...]) -> _LinearForm | None:
    cache = _FORMS.setdefault(module, {})
    key = tuple(map(str, free))
    if key not in cache:
        fixed = tuple(s for s in module.constant_symbols if s not in free)
        expr, root = module.expr, 1
        parts = _affine_parts(expr, free)
        if parts is None and expr.is_Pow and expr.exp.is_Rational and expr.exp.p == 1 and expr.exp.q > 1:
            root = int(expr.exp.q)
            parts = _affine_parts(expr.base, free)
        program = None if parts is None else TorchProgram(parts, module.inputs + fixed)
        cache[key] = None if program is None else _LinearForm(root, program)
    return cache[key]


def _solve_linear(
    module: SympyModule, form: _LinearForm, free: tuple[sympy.Symbol, ...], x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Solve for the free constants; if some rows give non-finite features or targets,
    solve nothing and return them (a mask over the rows)."""
    fixed_values = [
        p.to(dtype=x.dtype, device=x.device)
        for s, p in zip(module.constant_symbols, module.constants.values())
        if s not in free
    ]
    batch = x.shape[:-1]
    with torch.no_grad():
        columns = [
            torch.broadcast_to(torch.as_tensor(v, dtype=x.dtype, device=x.device), batch).reshape(-1)
            for v in form.program([*x.unbind(-1), *fixed_values])
        ]
    offset, design = columns[0], torch.stack(columns[1:], dim=-1)
    target = y.detach().reshape(-1) ** form.root - offset
    finite = torch.isfinite(design).all(-1) & torch.isfinite(target)
    if not bool(finite.all()):
        return ~finite
    solution = least_squares(design, target)
    with torch.no_grad():
        for s, value in zip(free, solution):
            module.constants[str(s)].copy_(value)
    return ~finite


def _lbfgs(module: nn.Module, x: torch.Tensor, y: torch.Tensor, max_iter: int, history: int = 10) -> None:
    """Minimise the mean squared residual by L-BFGS with a backtracking (Armijo) line search.

    ``torch.optim.LBFGS`` is not used: its strong-Wolfe search fails on a NaN loss
    (a trial step outside the domain, e.g. :math:`C < 0` under a square root), which
    its unit-length first step reaches easily.  Here a non-finite trial point simply
    halves the step.
    """
    params = [p for p in module.parameters() if p.requires_grad]

    def assign(vector: torch.Tensor) -> None:
        offset = 0
        with torch.no_grad():
            for p in params:
                p.copy_(vector[offset : offset + p.numel()].view_as(p))
                offset += p.numel()

    def evaluate(vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assign(vector)
        loss = torch.mean((_prediction(module, x) - y) ** 2)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        flat = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        return loss.detach().to(vector.dtype), torch.cat([g.reshape(-1) for g in flat]).to(vector.dtype)

    dtype = functools.reduce(torch.promote_types, [p.dtype for p in params])
    v = torch.cat([p.detach().reshape(-1).to(dtype) for p in params])
    f, g = evaluate(v)
    if not torch.isfinite(f):
        raise ValueError(
            "the loss at the starting values of the constants is not finite (outside the "
            "expression's domain?); start from other values"
        )
    s_hist: list[torch.Tensor] = []
    y_hist: list[torch.Tensor] = []
    for _ in range(max_iter):
        if not (torch.isfinite(f) and torch.isfinite(g).all()) or not bool(g.any()):
            break
        d = _two_loop(g, s_hist, y_hist)
        slope = torch.dot(g, d)
        if slope >= 0:  # not a descent direction: forget the curvature pairs
            s_hist.clear()
            y_hist.clear()
            d, slope = -g, -torch.dot(g, g)
        if s_hist:
            t = 1.0
        else:
            # No curvature known yet: a first step of a tenth of the constants' scale.  (The
            # customary unit step can land exactly on a domain edge, e.g. C = 0 under a
            # root, where the safe-root convention gives a zero gradient and a false stop.)
            t = 0.1 * float(v.abs().max().clamp_min(1.0)) / float(d.abs().max())
        smallest = torch.finfo(dtype).eps * float(v.abs().max().clamp_min(1.0))
        while True:
            f_new, g_new = evaluate(v + t * d)
            if torch.isfinite(f_new) and f_new <= f + 1e-4 * t * slope:
                break
            t /= 2
            if t * float(d.abs().max()) < smallest:  # no decrease left above rounding
                assign(v)
                return
        step, change = t * d, g_new - g
        if torch.dot(step, change) > 0:
            s_hist.append(step)
            y_hist.append(change)
            if len(s_hist) > history:
                s_hist.pop(0)
                y_hist.pop(0)
        v, f, g = v + step, f_new, g_new
    assign(v)


def _two_loop(g: torch.Tensor, s_hist: list[torch.Tensor], y_hist: list[torch.Tensor]) -> torch.Tensor:
    """The L-BFGS direction -H g from the stored curvature pairs."""
    q = g.clone()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist)):
        alpha = torch.dot(s, q) / torch.dot(y, s)
        q -= alpha * y
        alphas.append(alpha)
    if s_hist:
        q *= torch.dot(s_hist[-1], y_hist[-1]) / torch.dot(y_hist[-1], y_hist[-1])
    for (s, y), alpha in zip(zip(s_hist, y_hist), reversed(alphas)):
        beta = torch.dot(y, q) / torch.dot(y, s)
        q += (alpha - beta) * s
    return -q


def _prediction(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = module(x)
    batch = x.shape[:-1]
    if out.shape == batch or out.shape == (*batch, 1):
        return out.reshape(batch)
    raise ValueError(f"fit_constants needs one output per row, (..., 1); the module gave {tuple(out.shape)}")


def _not_finite(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The rows of ``x`` (N, d) whose prediction at the current constants is not finite."""
    with torch.no_grad():
        return ~torch.isfinite(_prediction(module, x))


def _describe(rows: torch.Tensor, batch: torch.Size, limit: int = 10) -> str:
    """Row indices into a batch of shape ``batch``, the first ``limit`` of them."""
    index = [
        tuple(r) if len(batch) > 1 else r[0]
        for r in torch.stack(torch.unravel_index(rows, batch), -1).tolist()
    ]
    shown = ", ".join(map(str, index[:limit]))
    return shown + (f", ... ({len(index)} in all)" if len(index) > limit else "")


def fit_constants(
    module: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    method: str = "auto",
    refine: bool = False,
    max_iter: int = 100,
    drop_invalid: bool = False,
) -> FitResult:
    r"""Fit a module's constants to data: :math:`\min_C \sum_i (f(x_i; C) - y_i)^2`.

    - **Linear** (closed form): a :class:`SympyModule` whose expression is affine in
      its constants, :math:`f = f_0(x) + \sum_j C_j f_j(x)` (sympy checks that each
      :math:`\partial f / \partial C_j` is free of constants), is fitted by one linear
      least-squares solve: no iterations, no learning rate, exact to rounding.
    - **Linear in a root** (closed form): for :math:`f = (f_0 + \sum_j C_j f_j)^{1/k}`,
      such as the triangle's :math:`A = \sqrt{C\,P}`, the same solve fits
      :math:`y^k \approx f^k`.  That is exact for noise-free data; with noise it
      minimises the residual of :math:`y^k` rather than of :math:`y` (pass
      ``refine=True`` to continue with L-BFGS on :math:`y` itself).
    - **L-BFGS** otherwise (and for any other ``nn.Module``), from the current values,
      with a backtracking line search that treats a non-finite loss (a step outside
      the expression's domain) as too long a step.

    Constants with ``requires_grad=False`` stay fixed.  The module is updated in place.

    Every row must lie in the expression's domain: a row whose data, features or
    fitted prediction are not finite (e.g. an invalid triangle, where
    :math:`\sqrt{C P}` with :math:`P < 0` is NaN for every :math:`C > 0`) would bias
    the fit silently, so it raises a ``ValueError`` naming the rows, unless
    ``drop_invalid=True`` leaves them out (and ``FitResult.dropped`` says how many).

    Parameters
    ----------
    module : SympyModule or nn.Module
        Output ``(..., 1)`` or ``(...,)``.
    x : Tensor, shape ``(..., d)``
    y : Tensor, shape ``(...,)`` or ``(..., 1)``
        Targets; for the closed forms every row must give finite features and targets.
    method : {"auto", "linear", "lbfgs"}
        ``"auto"``: a closed form where one applies, else L-BFGS; ``"linear"``: the
        closed form or a ``ValueError``; ``"lbfgs"``: always iterate.
    refine : bool
        After a closed form, run L-BFGS on the residual in :math:`y` (changes nothing
        for an affine form, whose closed form already minimises it).
    max_iter : int
        L-BFGS iterations at most.
    drop_invalid : bool
        Leave out, and count, the rows outside the expression's domain (non-finite
        data, features or prediction) and fit the rest, instead of raising.

    Returns
    -------
    FitResult
        ``.module``, ``.residual`` (RMS), ``.method``, ``.constants``; unpacks as
        ``module, residual = fit_constants(...)``.

    Examples
    --------
    The lecture's level 4, from data alone:

    >>> import torch, symnn
    >>> from symnn import priors
    >>> edges = 1 + torch.rand(4000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> area = symnn.functional.heron_area(edges)
    >>> result = priors.fit_constants(priors.heron_module(), edges, area)
    >>> result.method, abs(result.constants["C"] * 16 - 1) < 1e-14
    ('linear-in-root', True)

    A constant inside a nonlinearity is fitted by L-BFGS:

    >>> import sympy
    >>> t, k = sympy.symbols("t k")
    >>> decay = priors.SympyModule(sympy.exp(-k * t), [t])
    >>> times = torch.linspace(0, 2, 50, dtype=torch.float64).unsqueeze(-1)
    >>> fitted, residual = priors.fit_constants(decay, times, torch.exp(-3 * times))
    >>> round(fitted.constant_values()["k"], 8), residual < 1e-8
    (3.0, True)
    """
    check_module(module, "module")
    check_tensor(x)
    check_tensor(y, "y")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int; got {max_iter!r}")
    if x.ndim == 0:
        raise ValueError("x must have shape (..., d); got a 0-dim tensor")
    batch = x.shape[:-1]
    if y.shape not in (batch, (*batch, 1)):
        raise ValueError(
            f"y must have shape {tuple(batch)} or {(*batch, 1)}, one target per row of x; got {tuple(y.shape)}"
        )
    y = y.reshape(batch).to(x.dtype)
    if not any(p.requires_grad for p in module.parameters()):
        raise ValueError("the module has no constants to fit (no parameter requires grad)")

    form = None
    if isinstance(module, SympyModule):
        free = tuple(s for s, p in zip(module.constant_symbols, module.constants.values()) if p.requires_grad)
        form = None if method == "lbfgs" else _linear_form(module, free)
        if method == "linear" and form is None:
            raise ValueError(
                f"the constants of {module.expr} do not enter linearly (nor linearly inside a root); "
                "use method='lbfgs' or 'auto'"
            )
    elif method == "linear":
        raise TypeError(
            "method='linear' needs a SympyModule (its expression tells where the constants enter); "
            f"got {type(module).__name__}"
        )

    x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1)
    kept = torch.arange(x.shape[0], device=x.device)
    for _ in range(3):
        xs, ys = x[kept], y[kept]
        bad = ~(torch.isfinite(xs).all(-1) & torch.isfinite(ys))
        if not bool(bad.any()):
            if form is None:
                bad = _not_finite(module, xs)
                if bool(bad.all()):
                    raise ValueError(
                        "the loss at the starting values of the constants is not finite on any row "
                        "(outside the expression's domain?); start from other values"
                    )
                if not bool(bad.any()):
                    _lbfgs(module, xs, ys, max_iter)
                    used = "lbfgs"
            else:
                assert isinstance(module, SympyModule)  # a linear form is only found for one
                bad = _solve_linear(module, form, free, xs, ys)
                used = "linear" if form.root == 1 else "linear-in-root"
                if refine and form.root > 1 and not bool(bad.any()):
                    _lbfgs(module, xs, ys, max_iter)
                    used += "+lbfgs"
            if not bool(bad.any()):
                bad = _not_finite(module, xs)
                if not bool(bad.any()):
                    break
        if not drop_invalid or bool(bad.all()):
            expr = module.expr if isinstance(module, SympyModule) else type(module).__name__
            raise ValueError(
                f"fit_constants: {int(bad.sum())} of {x.shape[0]} rows are outside the domain of {expr} "
                f"(their data, features or fitted prediction are non-finite): x[{_describe(kept[bad], batch)}]; "
                "remove them, or pass drop_invalid=True to fit the others"
            )
        kept = kept[~bad]
    else:
        raise ValueError("fit_constants: rows kept leaving the domain after three refits; clean the data")

    with torch.no_grad():
        residual = float(torch.sqrt(torch.mean((_prediction(module, xs) - ys) ** 2)))
    constants = module.constant_values() if isinstance(module, SympyModule) else {}
    return FitResult(module, residual, used, constants, dropped=x.shape[0] - kept.numel())
