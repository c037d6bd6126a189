"""Batch gradient descent for LINEAR_REG and LOGISTIC_REG: one ML.TRAINING_INFO row per iteration.

BigQuery ML trains linear and logistic regression iteratively unless the normal equation applies
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm): each iteration is
one row of ML.TRAINING_INFO (loss, eval_loss, learning_rate, duration_ms), MAX_ITERATIONS bounds them, and with
EARLY_STOP training stops after the first iteration whose relative loss improvement is below MIN_REL_PROGRESS.

The objective is the toolkit's one convention for linear models (see toolkit.ml.types.estimators), divided by the
total row weight so that step sizes do not depend on the number of rows:
    (sum_i w_i * loss_i  +  L1_REG * ||W||_1  +  L2_REG * ||W||_2^2) / sum_i w_i      (intercepts not penalized)
loss_i is the squared error (LINEAR_REG), the log loss of the sigmoid (binary) or of the softmax over one weight
row per class (multiclass, as scikit-learn's multinomial LogisticRegression).

LEARN_RATE_STRATEGY:
- CONSTANT: x <- prox(x - LEARN_RATE * gradient), prox being L1's soft threshold (the identity without L1).
- LINE_SEARCH without L1: L-BFGS (10 pairs of history) with a backtracking Armijo line search; the first
  iteration tries LS_INIT_LEARN_RATE along the negative gradient, doubling it while the objective falls by at
  least half the linear prediction (on a quadratic: up to the line's minimum), or halving it until it falls; later iterations try the quasi-Newton step 1 and halve it.
- LINE_SEARCH with L1: proximal gradient steps; each iteration tries twice the previous step (the first
  LS_INIT_LEARN_RATE) and halves it until the step's quadratic bound holds.
learning_rate in ML.TRAINING_INFO is the step length each iteration took."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from toolkit.errors import ModelError
from toolkit.ml.model import Iteration
from toolkit.progress import advance

SQUARED, BINARY, MULTINOMIAL = "squared", "binary", "multinomial"
_HISTORY = 10
_ARMIJO = 1e-4
_EXPAND = 0.5  # a doubled first step is kept while it lowers the objective by half the linear prediction
_MAX_HALVINGS = 40
_MAX_DOUBLINGS = 20


@dataclass(frozen=True)
class Settings:
    """What the descent needs from the options."""

    model: str
    kind: str  # SQUARED, BINARY or MULTINOMIAL
    n_classes: int  # 0 for regression
    l1: float
    l2: float
    fit_intercept: bool
    max_iterations: int
    early_stop: bool
    min_rel_progress: float
    strategy: str  # LINE_SEARCH or CONSTANT
    learn_rate: float  # CONSTANT's step
    ls_init_learn_rate: float  # LINE_SEARCH's first trial step


@dataclass(frozen=True)
class Result:
    coef: np.ndarray  # (outputs, features)
    intercept: np.ndarray  # (outputs,)
    iterations: list[Iteration]


class _Buffers:
    """Arrays as long as a block's rows, reused from pass to pass: each fresh temporary of 33 million rows (260 MB)
    would fault in new pages, which cost more system time than the arithmetic. What they hold is overwritten by the
    next pass, so a caller uses it before asking for the next one."""

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, int], np.ndarray] = {}

    def get(self, name: str, n: int) -> np.ndarray:
        array = self._arrays.get((name, n))
        if array is None:
            array = self._arrays[(name, n)] = np.empty(n)
        return array


def _binary(z: np.ndarray, y: np.ndarray, *, gradient: bool,
            buffers: _Buffers | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The log loss of the sigmoid, softplus(z) - y z, and its derivative sigmoid(z) - y, fused: one exp and one log
    per row through q = 1 + exp(-|z|) (softplus(z) = log q + max(z, 0); sigmoid(z) = 1/2 ± (1/q - 1/2)), in place
    (in `buffers`' arrays when given). scipy's log_expit and expit take several times as long on a million rows."""
    buffers = buffers or _Buffers()
    n = len(z)
    q, losses, scratch = buffers.get("q", n), buffers.get("losses", n), buffers.get("scratch", n)
    np.abs(z, out=q)
    np.negative(q, out=q)
    np.exp(q, out=q)
    q += 1.0
    np.log(q, out=losses)
    losses += np.maximum(z, 0.0, out=scratch)
    losses -= np.multiply(y, z, out=scratch)
    if not gradient:
        return losses, None
    np.reciprocal(q, out=q)
    q -= 0.5
    dz = np.copysign(q, z, out=q)
    dz += 0.5
    dz -= y
    return losses, dz


def blocks(X) -> Iterator[tuple[int, int, np.ndarray]]:
    """(first row, row after the last, rows) of a design matrix in memory (one block), or of a streamed one
    (toolkit.ml.training.stream: its `blocks()`, encoded chunk by chunk)."""
    if hasattr(X, "blocks"):
        yield from X.blocks()
    else:
        yield 0, X.shape[0], X


class _Problem:
    """The smooth part of the objective on one data set, with parameters laid out as (outputs, features + 1).
    X is read block by block (one block in memory; a streamed design's chunks): every pass sums the blocks'
    losses and gradients, so only one block's matrix and scores exist at a time."""

    def __init__(self, settings: Settings, X, y: np.ndarray, weights: np.ndarray | None) -> None:
        self.s, self.X = settings, X
        self.n_out = settings.n_classes if settings.kind == MULTINOMIAL else 1
        self.y = np.asarray(y, np.float64)
        self.w = None if weights is None else np.asarray(weights, np.float64)
        self.n = X.shape[0]
        self.total = float(self.n if self.w is None else self.w.sum())
        self.buffers = _Buffers()

    def scores(self, theta: np.ndarray, X: np.ndarray) -> np.ndarray:
        if self.n_out == 1:  # a matrix-vector product: faster than a one-column matrix product
            z = X @ theta[0, :-1]
            z += theta[0, -1]
            return z
        return X @ theta[:, :-1].T + theta[:, -1]

    def row_losses(self, z: np.ndarray, y: np.ndarray, gradient: bool = False):
        """The rows' losses at scores z, and with `gradient` their derivatives in z."""
        kind = self.s.kind
        if kind == SQUARED:
            return (z - y) ** 2, 2.0 * (z - y) if gradient else None
        if kind == BINARY:
            return _binary(z, y, gradient=gradient, buffers=self.buffers)
        onehot = np.zeros_like(z)
        onehot[np.arange(len(z)), y.astype(np.int64)] = 1.0
        lse = logsumexp(z, axis=1)
        losses = lse - (z * onehot).sum(axis=1)
        return losses, np.exp(z - lse[:, None]) - onehot if gradient else None

    def mean_loss(self, theta: np.ndarray, X, y: np.ndarray) -> float:
        """The unweighted mean loss of other rows (the eval split's), block by block."""
        y = np.asarray(y, np.float64)
        total = 0.0
        for start, stop, rows in blocks(X):
            total += float(self.row_losses(self.scores(theta, rows), y[start:stop])[0].sum())
        return total / X.shape[0]

    def value(self, theta: np.ndarray) -> tuple[float, float]:
        """(smooth objective, unweighted mean loss) at theta."""
        f, _, mean = self._pass(theta, gradient=False)
        return f, mean

    def value_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray, float]:
        """(smooth objective, its gradient, unweighted mean loss) at theta."""
        return self._pass(theta, gradient=True)

    def _pass(self, theta: np.ndarray, gradient: bool) -> tuple[float, np.ndarray | None, float]:
        data = plain = 0.0
        grad = np.zeros_like(theta) if gradient else None
        for start, stop, X in blocks(self.X):
            y = self.y[start:stop]
            w = None if self.w is None else self.w[start:stop]
            losses, dz = self.row_losses(self.scores(theta, X), y, gradient)
            total = losses.sum()
            plain += total
            data += total if w is None else losses @ w
            if gradient:
                if w is not None:
                    dz = dz * (w if dz.ndim == 1 else w[:, None])
                grad[:, :-1] += (X.T @ dz).T
                if self.s.fit_intercept:
                    grad[:, -1] += dz.sum(axis=0)
        f = float((data + self.s.l2 * np.sum(theta[:, :-1] ** 2)) / self.total)
        if gradient:
            grad[:, :-1] += 2.0 * self.s.l2 * theta[:, :-1]
            grad /= self.total
        return f, grad, float(plain / self.n)

    def l1(self, theta: np.ndarray) -> float:
        return self.s.l1 * float(np.abs(theta[:, :-1]).sum()) / self.total

    def prox(self, theta: np.ndarray, step: float) -> np.ndarray:
        """Soft-threshold the weights (not the intercepts) by step * L1_REG / total weight."""
        if self.s.l1 == 0:
            return theta
        out = theta.copy()
        bar = step * self.s.l1 / self.total
        out[:, :-1] = np.sign(theta[:, :-1]) * np.maximum(np.abs(theta[:, :-1]) - bar, 0.0)
        return out


def descend(settings: Settings, X, y: np.ndarray, weights: np.ndarray | None,
            X_eval: np.ndarray | None, y_eval: np.ndarray | None, start: np.ndarray | None = None) -> Result:
    """Minimise the objective from `start` ((outputs, features + 1), zeros when None), recording each iteration.
    X (and X_eval) is a matrix in memory, or a streamed design read chunk by chunk in every pass."""
    problem = _Problem(settings, X, y, weights)
    theta = np.zeros((problem.n_out, X.shape[1] + 1)) if start is None else np.array(start, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging CONSTANT step is reported below
        return _descend(settings, problem, theta, X_eval, y_eval)


def _descend(settings: Settings, problem: _Problem, theta: np.ndarray, X_eval,
             y_eval: np.ndarray | None) -> Result:
    has_eval = X_eval is not None and X_eval.shape[0] > 0

    def eval_loss(point: np.ndarray) -> float | None:
        if not has_eval:
            return None
        return problem.mean_loss(point, X_eval, y_eval)

    f, grad, train_loss = problem.value_grad(theta)
    watched = [eval_loss(theta) if has_eval else train_loss]
    rows: list[Iteration] = []
    step_of = _Stepper(settings, problem)
    for i in range(settings.max_iterations):
        began = time.perf_counter()
        moved = step_of(theta, f, grad)
        if moved is None:  # converged: no step lowers the objective any more
            break
        theta, f, grad, train_loss, rate = moved
        if not np.isfinite(f):
            raise ModelError(f"model {settings.model}: gradient descent diverged at iteration {i} (the loss is "
                             f"{f}) with LEARN_RATE = {settings.learn_rate}",
                             hint="lower LEARN_RATE, or use LEARN_RATE_STRATEGY = 'LINE_SEARCH'")
        current_eval = eval_loss(theta)
        rows.append(Iteration(i, train_loss, current_eval, rate, int((time.perf_counter() - began) * 1000)))
        advance("iterations", i + 1, settings.max_iterations)
        watched.append(current_eval if has_eval else train_loss)
        previous = watched[-2]
        if settings.early_stop and previous > 0 and (previous - watched[-1]) / previous < settings.min_rel_progress:
            break
    if not rows:  # already optimal at the start (e.g. a warm start from the optimum): one row, no step
        rows.append(Iteration(0, train_loss, eval_loss(theta), 0.0, 0))
    return Result(theta[:, :-1].copy(), theta[:, -1].copy(), rows)


class _Stepper:
    """One iteration of the chosen strategy: (theta, objective, gradient, mean loss, step length) or None."""

    def __init__(self, settings: Settings, problem: _Problem) -> None:
        self.s, self.p = settings, problem
        self.pairs: list[tuple[np.ndarray, np.ndarray, float]] = []  # L-BFGS (s, y, 1 / y.s)
        self.last_step: float | None = None

    def __call__(self, theta: np.ndarray, f: float, grad: np.ndarray):
        if not np.isfinite(grad).all() or np.abs(grad).max() == 0.0 and self.s.l1 == 0:
            return None
        if self.s.strategy == "CONSTANT":
            rate = self.s.learn_rate
            moved = self.p.prox(theta - rate * grad, rate)
            return (moved, *self.p.value_grad(moved), rate)
        if self.s.l1 > 0:
            return self._proximal(theta, f, grad)
        return self._lbfgs(theta, f, grad)

    def _proximal(self, theta: np.ndarray, f: float, grad: np.ndarray):
        rate = self.s.ls_init_learn_rate if self.last_step is None else 2.0 * self.last_step
        total_before = f + self.p.l1(theta)
        for _ in range(_MAX_HALVINGS):
            moved = self.p.prox(theta - rate * grad, rate)
            diff = moved - theta
            f_new, train_loss = self.p.value(moved)
            if f_new <= f + np.sum(grad * diff) + np.sum(diff ** 2) / (2.0 * rate) + 1e-15 * abs(f):
                if f_new + self.p.l1(moved) > total_before or not diff.any():
                    return None
                self.last_step = rate
                return (moved, *self.p.value_grad(moved)[:2], train_loss, rate)
            rate /= 2.0
        return None

    def _lbfgs(self, theta: np.ndarray, f: float, grad: np.ndarray):
        first = not self.pairs
        direction = -grad if first else self._direction(grad)
        slope = float(np.sum(grad * direction))
        if slope >= 0:  # not a descent direction (numerical trouble): restart from the gradient
            self.pairs.clear()
            direction, slope, first = -grad, -float(np.sum(grad * grad)), True
        rate = self.s.ls_init_learn_rate if first else 1.0
        best = self._try(theta, direction, rate, gradient=True)  # the step usually taken: its gradient at once
        if best[0] <= f + _ARMIJO * rate * slope:
            if first:  # expand while doubling keeps lowering the objective
                for _ in range(_MAX_DOUBLINGS):
                    wider = self._try(theta, direction, 2.0 * rate)
                    if not (wider[0] < best[0] and wider[0] <= f + _EXPAND * 2.0 * rate * slope):
                        break
                    best, rate = wider, 2.0 * rate
        else:
            for _ in range(_MAX_HALVINGS):
                rate /= 2.0
                best = self._try(theta, direction, rate)
                if best[0] <= f + _ARMIJO * rate * slope:
                    break
            else:
                return None
        f_new, grad_new, train_loss, moved = best
        if grad_new is None:  # trial steps evaluate the objective only
            f_new, grad_new, train_loss = self.p.value_grad(moved)
        if f_new >= f and not first:
            return None
        s, y = (moved - theta).ravel(), (grad_new - grad).ravel()
        ys = float(y @ s)
        if ys > 1e-12 * float(y @ y):
            self.pairs.append((s, y, 1.0 / ys))
            del self.pairs[:-_HISTORY]
        return moved, f_new, grad_new, train_loss, rate

    def _try(self, theta: np.ndarray, direction: np.ndarray, rate: float, gradient: bool = False):
        moved = theta + rate * direction
        if gradient:
            f_new, grad_new, train_loss = self.p.value_grad(moved)
        else:
            (f_new, train_loss), grad_new = self.p.value(moved), None
        return (f_new if np.isfinite(f_new) else np.inf), grad_new, train_loss, moved

    def _direction(self, grad: np.ndarray) -> np.ndarray:
        """L-BFGS two-loop recursion: minus the inverse-Hessian estimate times the gradient."""
        q = grad.ravel().copy()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * float(s @ q)
            q -= alpha * y
            alphas.append(alpha)
        s, y, rho = self.pairs[-1]
        q *= 1.0 / (rho * float(y @ y))
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas)):
            q += (alpha - rho * float(y @ q)) * s
        return -q.reshape(grad.shape)
