"""What a zoo problem is, and the harness that runs its ladder of levels.

A problem module (``zoo/triangle.py``, ...) declares one :class:`Problem` object,
``PROBLEM = Problem(name=..., levels=..., ...)``: its data, its levels (one small
function each, building and training one model), an evaluation on its
:class:`TestSet` s, the symmetry or constraint error it watches during training, and
the claims its results should support.  The registry in ``zoo/__init__.py`` lists
the problem modules.  :func:`run_problem` runs the chosen levels one after the other
on the same data and collects everything the report needs.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.functional import mse_loss

import symnn

from ._training import History, Settings, Trained, timed_fit, train

__all__ = [
    "BIASES",
    "Level",
    "TestSet",
    "Evaluation",
    "Finding",
    "Problem",
    "Context",
    "LevelResult",
    "RunResult",
    "select_levels",
    "claim",
    "run_problem",
    "run_level",
    "assemble",
    "make_data",
    "level_seed",
    "relative_rms",
    "model_dtype",
    "relative_symmetry_error",
    "evaluate_regression",
    "ALIGNMENT_PROBE_SIZE",
    "default_alignment_probe",
]

#: The kinds of bias, in the lecture's order.
BIASES = ("none", "observation", "learning", "inductive", "physics")


@dataclass(frozen=True)
class Level:
    """One rung of a problem's ladder.

    Attributes
    ----------
    key : str
        The name on the command line: ``"0"``, ``"1a"``, ``"3s"``, ...
    bias : str
        One of :data:`BIASES`.
    title : str
        One line: what the level does.
    build : callable
        ``build(ctx) -> Trained``: builds the model and trains or fits it.
    """

    key: str
    bias: str
    title: str
    build: Callable[[Context], Trained]

    def __post_init__(self) -> None:
        if self.bias not in BIASES:
            raise ValueError(f"level {self.key!r}: expected a bias in {BIASES}; got {self.bias!r}")

    @property
    def description(self) -> str:
        """The first paragraph of ``build``'s docstring, on one line (what ``symnn-zoo list`` shows)."""
        doc = (self.build.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())


@dataclass(frozen=True, eq=False)
class TestSet:
    """A test set: inputs, targets, and whether it lies in the training distribution.

    Findings and figures select test sets by these fields (``in_distribution``,
    ``kind``), never by their names.

    Attributes
    ----------
    name : str
        The table's column header for the error on this set.
    x, y : Tensor
        Inputs and targets.
    in_distribution : bool
        Whether the inputs come from the training distribution.
    kind : str
        What the set probes, shared by its ID and OOD versions: ``"base"``,
        ``"permuted"``, ``"mirror"``, ...
    """

    __test__ = False  # not a pytest class

    name: str
    x: torch.Tensor
    y: torch.Tensor
    in_distribution: bool
    kind: str = "base"

    def to(self, device: torch.device) -> TestSet:
        """The same test set with its tensors on ``device``."""
        return replace(self, x=self.x.to(device), y=self.y.to(device))


@dataclass
class Evaluation:
    """A trained model measured on the problem's test sets.

    ``errors`` holds the headline errors (the table's columns); ``test_sets`` maps
    an error that was measured on a :class:`TestSet` to that set (an error such as
    a boundary error has none); ``metrics`` holds everything else worth recording;
    ``predictions`` maps a test set's name to ``(predicted, true)`` arrays for the
    scatter plots; ``figure_data`` holds arrays for the problem's own figures (not
    written to results.json).
    """

    errors: dict[str, float]
    metrics: dict[str, float] = field(default_factory=dict)
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    figure_data: dict[str, Any] = field(default_factory=dict)
    test_sets: dict[str, TestSet] = field(default_factory=dict)

    def errors_on(self, *, in_distribution: bool | None = None, kind: str | None = None) -> dict[str, float]:
        """The errors measured on test sets with the given ``in_distribution`` and ``kind`` (None: any)."""
        return {
            name: self.errors[name]
            for name, test in self.test_sets.items()
            if (in_distribution is None or test.in_distribution == in_distribution)
            and (kind is None or test.kind == kind)
        }

    def error_on(self, *, in_distribution: bool, kind: str) -> float:
        """The one error measured on the test set of this ``kind`` and distribution."""
        (value,) = self.errors_on(in_distribution=in_distribution, kind=kind).values()
        return value

    def worst(self, *, in_distribution: bool | None = None) -> float:
        """The largest error on the test sets (in or out of distribution: None for all)."""
        return max(self.errors_on(in_distribution=in_distribution).values())


@dataclass
class Finding:
    """A claim the results should support, and whether this run does.

    ``holds`` is None when the run lacks a level the claim needs.  ``quick`` says
    whether the claim is expected to hold in quick mode too (the smoke test checks
    those).  In a run over several seeds, ``holds`` and ``detail`` are those of the
    mean over the seeds (the detail's numbers printed as mean ± standard deviation),
    and ``seed_holds`` is the verdict for each seed alone (None for one seed).
    """

    claim: str
    holds: bool | None
    detail: str = ""
    quick: bool = False
    seed_holds: list[bool | None] | None = None


@dataclass(frozen=True)
class Problem:
    """A worked problem: data, levels, evaluation, monitor and claims.

    Each problem module ends with one explicit ``PROBLEM = Problem(name=..., ...)``.

    Attributes
    ----------
    name, summary : str
        The command-line name and a one-line description.
    levels : tuple of Level
        The ladder, in order.
    full_settings, quick_settings : Settings
        Instances of one frozen subclass of :class:`zoo._training.Settings`;
        ``full_settings`` is the lecture's setting, ``quick_settings`` the smoke test's.
    make_data : callable
        ``make_data(settings, generator, device) -> data``.
    evaluate : callable
        ``evaluate(model, data, settings) -> Evaluation``.
    monitor : callable
        ``monitor(model, data, settings) -> float``: the symmetry or constraint error,
        watched during training.
    monitor_label : str
        What ``monitor`` measures, for the table and the figure.
    error_label : str
        What ``Evaluation.errors`` measures.
    findings : callable
        ``findings(results, settings) -> list[Finding]``, ``results`` keyed by level,
        ``settings`` those of the run.
        A finding marked ``quick=True`` must hold in quick mode too: the tests read
        it from results.json and assert it.
        Over several seeds (``--seeds``) it is called once per seed and once on the
        means, every number then a :class:`~symnn_zoo._sweep.Spread`: a float equal
        to the mean that formats as ``mean ± std``, so the same code judges the means
        and states their spread.
    error_in_percent : bool
        Whether the table shows the errors as percentages.
    monitor_column : str
        The table's short header for the final value of ``monitor``.
    baseline_level : str
        The level whose training time the others are compared with (level 0 where
        the ladder has one).
    extra_figures : callable, optional
        ``extra_figures(run, out) -> list of paths``: the problem's own figures.
    extra_markdown : callable, optional
        ``extra_markdown(run) -> str``: the problem's own section of results.md
        (Markdown: a heading, paragraphs, pipe tables), shown after the findings.
    alignment_probe : callable
        ``alignment_probe(data, settings) -> (x, y, loss_fn)``: the small fixed probe batch
        on which :func:`symnn.diagnostics.gradient_alignment` is recorded during training
        (default :func:`default_alignment_probe`: the first training rows, MSE).
    alignment_method : str
        Its ``method``: ``"auto"`` (exact for small probes, the sketch otherwise), or
        ``"exact"`` for a model whose backward is not differentiable (a solver's).
    """

    name: str
    summary: str
    levels: tuple[Level, ...]
    full_settings: Settings
    quick_settings: Settings
    make_data: Callable[[Any, torch.Generator, torch.device], Any]
    evaluate: Callable[[nn.Module, Any, Any], Evaluation]
    monitor: Callable[[nn.Module, Any, Any], float]
    monitor_label: str
    error_label: str
    findings: Callable[[dict[str, LevelResult], Any], list[Finding]]
    error_in_percent: bool = True
    monitor_column: str = "symmetry error"
    baseline_level: str = "0"
    extra_figures: Callable[[RunResult, Any], list[Any]] | None = None
    extra_markdown: Callable[[RunResult], str] | None = None
    alignment_probe: Callable[[Any, Any], tuple[torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]]] = (
        lambda data, settings: default_alignment_probe(data, settings)
    )
    alignment_method: str = "auto"

    def __post_init__(self) -> None:
        keys = self.level_keys
        if len(set(keys)) != len(keys):
            raise ValueError(f"problem {self.name!r}: level keys must be unique; got {keys}")
        for which in ("full_settings", "quick_settings"):
            if not isinstance(getattr(self, which), Settings):
                raise TypeError(
                    f"problem {self.name!r}: expected {which} to extend zoo._training.Settings; "
                    f"got {type(getattr(self, which)).__name__}"
                )
        if type(self.full_settings) is not type(self.quick_settings):
            raise TypeError(f"problem {self.name!r}: full and quick settings must be of one class")

    @property
    def level_keys(self) -> list[str]:
        return [level.key for level in self.levels]

    def level(self, key: str) -> Level:
        return {level.key: level for level in self.levels}[key]


@dataclass
class Context:
    """What a level's ``build`` function gets: the data, the settings, and how to train.

    ``generator`` is this level's own seeded generator, for every random draw during
    training (online augmentation, sampled penalty elements).
    """

    problem: Problem
    data: Any
    settings: Any
    generator: torch.Generator
    device: torch.device
    description: str
    progress: bool

    def train(self, model: nn.Module, loss_fn: Callable[[], torch.Tensor]) -> Trained:
        """Train ``model`` on ``loss_fn`` with the problem's shared loop and settings."""
        model.to(self.device)  # in place, so loss_fn's reference to model sees the move

        def monitor() -> float:
            with torch.no_grad():
                return self.problem.monitor(model, self.data, self.settings)

        history = train(
            model,
            loss_fn,
            epochs=self.settings.epochs,
            lr=self.settings.lr,
            final_lr=self.settings.final_lr,
            monitor=monitor,
            n_checkpoints=self.settings.n_checkpoints,
            description=self.description,
            progress=self.progress,
            device=self.device,
            alignment=self.alignment(model),
        )
        return Trained(model, history)

    def alignment(self, model: nn.Module) -> Callable[[], dict[str, float | int | str]] | None:
        """What records ``model``'s gradient alignment on the problem's probe batch (None: nothing to align).

        Each call measures :func:`symnn.diagnostics.gradient_alignment` on the same
        probe, with its own generator for the sketch's directions, so that recording
        leaves the training's random stream and parameter gradients untouched.
        """
        if not any(p.requires_grad for p in model.parameters()):
            return None
        x, y, loss_fn = self.problem.alignment_probe(self.data, self.settings)
        dtype = model_dtype(model)
        x = x.to(dtype) if x.is_floating_point() else x
        y = y.to(dtype) if y.is_floating_point() else y

        def record() -> dict[str, float | int | str]:
            report = symnn.diagnostics.gradient_alignment(
                model,
                loss_fn,
                x,
                y,
                method=self.problem.alignment_method,
                generator=torch.Generator(device=x.device).manual_seed(0),
            )
            return asdict(report)

        return record

    def train_mse(
        self, model: nn.Module, x: torch.Tensor | None = None, y: torch.Tensor | None = None
    ) -> Trained:
        """Train ``model`` on the mean squared error of ``model(x)`` against ``y``, by default the data's."""
        x = self.data.x if x is None else x
        y = self.data.y if y is None else y
        return self.train(model, lambda: mse_loss(model(x), y))

    def fit(self, fit: Callable[[], nn.Module]) -> Trained:
        """Run a closed-form fit, timed; the symmetry error is recorded once, after it."""
        trained = timed_fit(fit, self.device)
        with torch.no_grad():
            trained.history.monitor_epochs.append(0)
            trained.history.monitor_values.append(
                float(self.problem.monitor(trained.model, self.data, self.settings))
            )
        record_alignment = self.alignment(trained.model)
        if record_alignment is not None:
            trained.history.alignment_epochs.append(0)
            trained.history.alignment.append(record_alignment())
        return trained


@dataclass
class LevelResult:
    """One level's outcome: its evaluation, history and cost relative to the baseline level."""

    level: Level
    evaluation: Evaluation
    history: History
    cost_ratio: float | None = None

    @property
    def monitor_final(self) -> float:
        values = self.history.monitor_values
        return values[-1] if values else float("nan")


@dataclass
class RunResult:
    """A whole run: the settings it used and every level's result.

    A run over several seeds is one RunResult too: its ``levels`` hold the mean over
    the seeds of every number (each a :class:`~symnn_zoo._sweep.Spread` that also
    knows the seeds' values), its ``findings`` are judged on those means, and
    ``runs`` holds each seed's own RunResult (empty for a run of one seed).
    """

    problem: Problem
    settings: Any
    seed: int
    device: torch.device
    quick: bool
    levels: list[LevelResult]
    findings: list[Finding]
    seconds: float
    data: Any = None
    threads: int = 1
    runs: list[RunResult] = field(default_factory=list)

    def by_key(self) -> dict[str, LevelResult]:
        return {result.level.key: result for result in self.levels}

    @property
    def seeds(self) -> list[int]:
        """The seeds this run's numbers come from."""
        return [run.seed for run in self.runs] if self.runs else [self.seed]


def claim(
    results: dict[str, LevelResult],
    text: str,
    keys: Sequence[str],
    test: Callable[..., bool],
    detail: Callable[..., str],
    *,
    quick: bool = False,
) -> Finding:
    """A :class:`Finding` for ``text``: ``test`` and ``detail`` get the results of ``keys``.

    When a level in ``keys`` did not run, the finding is not measured (``holds=None``).
    """
    if not all(k in results for k in keys):
        return Finding(text, None, f"needs levels {', '.join(keys)}", quick)
    chosen = [results[k] for k in keys]
    return Finding(text, bool(test(*chosen)), detail(*chosen), quick)


def select_levels(problem: Problem, spec: str | None) -> list[str]:
    """The level keys named by ``spec`` (``"0,1,3"``), in the ladder's order.

    A key selects that level; a bare number that is not itself a key selects its
    variants (``"1"`` is ``1a`` and ``1b`` on the triangle, while ``"3"`` is level 3
    alone and ``"3s"`` its variant).  None or ``"all"`` selects every level.

    Raises
    ------
    ValueError
        For an empty or unknown level, naming the ones that exist.
    """
    keys = problem.level_keys
    if spec is None or spec.strip().lower() == "all":
        return keys
    wanted: set[str] = set()
    for token in (t.strip() for t in spec.split(",")):
        if token in keys:
            matches = [token]
        else:
            matches = [k for k in keys if token.isdigit() and k.rstrip("abcdefghijklmnopqrstuvwxyz") == token]
        if not matches:
            raise ValueError(
                f"unknown level {token!r} for {problem.name}; choose from {', '.join(keys)} "
                "(a bare number selects all its variants)"
            )
        wanted.update(matches)
    return [k for k in keys if k in wanted]


def level_seed(seed: int, key: str) -> int:
    """Each level's own seed, so a level gives the same numbers whichever others run."""
    return zlib.crc32(f"{seed}:{key}".encode())


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype a model's inputs should have: that of its trainable parameters.

    Frozen parts (a float64 physics baseline that casts itself) do not count.
    """
    parameters = list(model.parameters())
    trainable = [p for p in parameters if p.requires_grad] or parameters
    return trainable[0].dtype if trainable else torch.get_default_dtype()


def relative_symmetry_error(
    model: nn.Module, sym: symnn.Symmetry, x: torch.Tensor, elements: Sequence[Any]
) -> float:
    r"""The RMS symmetry violation relative to the RMS output, over the given elements.

    .. math:: \sqrt{\operatorname{mean}_{g,i} \lVert f(g\cdot x_i) - \rho(g) f(x_i) \rVert^2
              \,/\, \operatorname{mean}_i \lVert f(x_i) \rVert^2}

    The training curve's measure: unlike the largest violation, it moves when a
    model becomes symmetric on most inputs.  0 for an exactly symmetric model.
    """
    x = x.to(model_dtype(model))
    with torch.no_grad():
        violation = symnn.symmetry_penalty(model, x, sym, elements=list(elements))
        return float(torch.sqrt(violation.double() / model(x).double().square().mean()))


def relative_rms(predicted: torch.Tensor, true: torch.Tensor) -> float:
    r"""The relative RMS error :math:`\lVert \hat y - y \rVert_2 / \lVert y \rVert_2`, in float64."""
    predicted = predicted.detach().to(torch.float64)
    true = true.detach().to(torch.float64)
    return float((predicted - true).norm() / true.norm())


def evaluate_regression(model: nn.Module, tests: Sequence[TestSet]) -> Evaluation:
    """The relative RMS error (:func:`relative_rms`) on each test set, with its (predicted, true) pairs.

    Each error is named after its test set; the model runs in its own dtype
    (:func:`model_dtype`) and its outputs are compared in float64.  The
    predictions, flattened to numpy, are the scatter plots' data.
    """
    dtype = model_dtype(model)
    evaluation = Evaluation({})
    for test in tests:
        predicted = model(test.x.to(dtype)).to(torch.float64)
        evaluation.errors[test.name] = relative_rms(predicted, test.y)
        evaluation.test_sets[test.name] = test
        evaluation.predictions[test.name] = (predicted.cpu().numpy().ravel(), test.y.cpu().numpy().ravel())
    return evaluation


def make_data(problem: Problem, settings: Any, seed: int, device: torch.device) -> Any:
    """The problem's data for ``seed``: the same on every process that asks (each rank of a sweep)."""
    torch.manual_seed(seed)  # a problem drawing from the global generator still draws the same
    return problem.make_data(settings, torch.Generator().manual_seed(seed), device)


def run_level(
    problem: Problem,
    key: str,
    data: Any,
    *,
    settings: Any,
    seed: int,
    device: torch.device,
    progress: bool = True,
) -> LevelResult:
    """Build, train and evaluate level ``key`` on ``data`` (drawn from ``seed``).

    The level's initialisation and random draws come from :func:`level_seed` of
    ``(seed, key)`` alone, so the result does not depend on which levels ran before
    it, nor in which process it runs.  The cost ratio is left to :func:`assemble`.
    """
    level = problem.level(key)
    torch.manual_seed(level_seed(seed, key))
    ctx = Context(
        problem=problem,
        data=data,
        settings=settings,
        generator=torch.Generator().manual_seed(level_seed(seed, key)),
        device=device,
        description=f"{problem.name} level {key}",
        progress=progress,
    )
    trained = level.build(ctx)
    trained.model.eval()
    with torch.no_grad():
        evaluation = problem.evaluate(trained.model, data, settings)
    evaluation.metrics.update(trained.history.extras)
    return LevelResult(level, evaluation, trained.history)


def assemble(
    problem: Problem,
    results: list[LevelResult],
    *,
    settings: Any,
    seed: int,
    device: torch.device,
    quick: bool,
    seconds: float,
    data: Any = None,
) -> RunResult:
    """One seed's run from its levels' results: the cost ratios to the baseline level, and the findings."""
    by_key = {r.level.key: r for r in results}
    if problem.baseline_level in by_key:
        base = by_key[problem.baseline_level].history.seconds
        results = [replace(r, cost_ratio=r.history.seconds / base if base > 0 else None) for r in results]
        by_key = {r.level.key: r for r in results}
    findings = problem.findings(by_key, settings)
    return RunResult(
        problem, settings, seed, device, quick, results, findings, seconds, data, torch.get_num_threads()
    )


def run_problem(
    problem: Problem,
    level_keys: Sequence[str],
    *,
    settings: Any,
    seed: int,
    device: torch.device,
    quick: bool,
    progress: bool = True,
) -> RunResult:
    """Run the given levels of ``problem`` on one data set drawn from ``seed``.

    The data and every level's initialisation and random draws come from ``seed``
    alone, so the same seed gives the same numbers on the same machine.
    """
    start = time.perf_counter()
    data = make_data(problem, settings, seed, device)
    results = [
        run_level(problem, key, data, settings=settings, seed=seed, device=device, progress=progress)
        for key in level_keys
    ]
    return assemble(
        problem,
        results,
        settings=settings,
        seed=seed,
        device=device,
        quick=quick,
        seconds=time.perf_counter() - start,
        data=data,
    )


#: How many training rows :func:`default_alignment_probe` takes.
ALIGNMENT_PROBE_SIZE = 16


def default_alignment_probe(
    data: Any, settings: Any
) -> tuple[torch.Tensor, torch.Tensor, Callable[..., torch.Tensor]]:
    """The first :data:`ALIGNMENT_PROBE_SIZE` training rows (``data.x``, ``data.y``) and the MSE.

    The training rows are drawn at random, so their first rows are a fixed random
    sample of them.  ``data`` may also be a mapping with keys ``"x"`` and ``"y"``.  A
    problem whose data has no training rows gives its own ``alignment_probe``.
    """
    rows = data if isinstance(data, Mapping) else vars(data) if hasattr(data, "__dict__") else {}
    if not ("x" in rows and "y" in rows):
        raise TypeError(
            "expected data with training rows x and y for the default alignment probe; got "
            f"{type(data).__name__}: give the problem an alignment_probe"
        )
    return rows["x"][:ALIGNMENT_PROBE_SIZE], rows["y"][:ALIGNMENT_PROBE_SIZE], mse_loss
