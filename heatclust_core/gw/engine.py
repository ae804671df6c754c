"""Batched entropic Gromov-Wasserstein distances in torch, many pairs at once.

The scheme is POT's `entropic_gromov_wasserstein` with the square loss (Peyré, Cuturi and
Solomon 2016): start at T = p q^T; repeat T <- Sinkhorn(p, q, M = 2 (constC - C1 T 2C2), eps)
until the plan stops moving; the value is the GW loss sum(L(C1, C2) (x) T . T) of the final
plan, without the entropy term. What differs is how the work is done:

* Pairs of different sizes are padded with zero mass inside size buckets and solved together
  as (B, n, m) tensors, on CUDA when present.
* Sinkhorn runs in a stabilised kernel K = exp((f + g - M) / eps) whose log-potentials f, g
  are carried from one outer iteration to the next (a warm start) and refreshed with one exact
  log-domain step, so float32 stays finite even for eps = 0.01 where exp(-M / eps) underflows.
* Each pair stops on its own relative plan change and is recorded; finished pairs leave the
  batch a quarter of it at a time, so easy pairs do not pay for hard ones.
* On the CPU as on CUDA in float32, every exp's argument clamped above underflow (see
  _exp_floor).

Long because the solver, its bucketing by size and its warm starts belong together: they
share the padded batch layout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from heatclust_core.errors import ConfigError


@dataclass(frozen=True)
class GWOptions:
    """Solver settings. tol: relative Frobenius change of the plan between outer iterations;
    inner_tol: L1 marginal error at which a Sinkhorn projection stops; inner_relaxation: its
    over-relaxation factor w, 1 for plain Sinkhorn (see _sinkhorn)."""

    epsilon: float = 0.01
    max_iter: int = 500
    tol: float = 1e-4
    inner_max_iter: int = 20
    inner_tol: float = 1e-5
    inner_check_every: int = 5
    inner_relaxation: float = 1.0

    def __post_init__(self):
        if not self.epsilon > 0:
            raise ConfigError("epsilon", f"must be > 0, got {self.epsilon}")
        if self.max_iter < 1 or self.inner_max_iter < 1:
            raise ConfigError("max_iter", "must be >= 1")
        if not self.tol > 0 or not self.inner_tol > 0:
            raise ConfigError("tol", "must be > 0")
        if not 1.0 <= self.inner_relaxation < 2.0:
            raise ConfigError("inner_relaxation", f"must be in [1, 2), got {self.inner_relaxation}")


@dataclass
class MetricMeasure:
    """A metric-measure space: distances C (n, n) and weights p (n,) summing to 1."""

    C: torch.Tensor
    p: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.p.shape[0])


@dataclass
class GWResult:
    """values: (P,) GW losses; iterations: (P,) outer iterations used. When plans are asked
    for: plans, per pair (n_i, m_i) on the CPU, and potentials, per pair the Sinkhorn
    log-potentials (f (n_i,), g (m_i,)) of the last step; else None.

    What the arithmetic cost (bench/gw_flops.py): padded_sizes (P, 2), the (n, m) each pair
    was solved at inside its bucket; sinkhorn_matvecs (P,), the kernel-vector products of its
    Sinkhorn projections, summed over its outer iterations."""

    values: torch.Tensor
    iterations: torch.Tensor
    plans: list[torch.Tensor] | None = None
    potentials: list[tuple[torch.Tensor, torch.Tensor]] | None = None
    padded_sizes: torch.Tensor | None = None
    sinkhorn_matvecs: torch.Tensor | None = None


def _pad_batch(spaces: Sequence[MetricMeasure], size: int, device, dtype):
    B = len(spaces)
    C = torch.zeros(B, size, size, device=device, dtype=dtype)
    p = torch.zeros(B, size, device=device, dtype=dtype)
    for b, space in enumerate(spaces):
        n = space.size
        C[b, :n, :n] = space.C.to(device=device, dtype=dtype)
        p[b, :n] = space.p.to(device=device, dtype=dtype)
    return C, p


def _exp_floor(dtype: torch.dtype) -> float:
    """The most negative argument whose exp is still a normal number of `dtype`.

    Arguments are clamped there before every exp: in float32 on the CPU, exp and logsumexp of
    arguments whose result underflows took 30-65x as long as of others (10-17 ms against
    0.2-0.3 ms on (71, 424, 32); bench/gw.py). An entry of exp(-87) next to the row's largest,
    exp(0), weighs nothing in any sum."""
    return math.log(torch.finfo(dtype).tiny) + 1.0


def _logsumexp_(x: torch.Tensor, dim: int, floor: float) -> torch.Tensor:
    """log(sum(exp(x), dim)), overwriting x, with the exponents clamped at `floor`.

    A slice that is -inf everywhere (a padded row) gives floor + log(its length), finite: the
    caller masks it."""
    top = x.amax(dim, keepdim=True).nan_to_num_(neginf=0.0)
    return x.sub_(top).clamp_min_(floor).exp_().sum(dim).log_().add_(top.squeeze(dim))


def _solve_padded(C1, p, C2, q, options: GWOptions, want_plans: bool, T=None, f=None, g=None):
    """Solve one padded batch. C1 (B, n, n), p (B, n), C2 (B, m, m), q (B, m); T (B, n, m)
    the starting plans (default p q^T), f (B, n) and g (B, m) the starting potentials.

    The (B, n, m) work of an outer iteration runs in place where it can: on the CPU a fresh
    tensor of this size is a fresh mapping of zeroed pages, which cost more than the
    arithmetic on it."""
    eps = options.epsilon
    floor = _exp_floor(p.dtype)
    B = p.shape[0]
    row_mask, col_mask = p > 0, q > 0
    padding = ~(row_mask.unsqueeze(2) & col_mask.unsqueeze(1))
    log_p = torch.where(row_mask, p.log(), -math.inf)
    log_q = torch.where(col_mask, q.log(), -math.inf)
    h2 = 2.0 * C2
    const = (C1 * C1) @ p.unsqueeze(-1) + ((C2 * C2) @ q.unsqueeze(-1)).transpose(1, 2)

    if T is None:
        T = p.unsqueeze(-1) * q.unsqueeze(1)
    f = torch.zeros_like(p) if f is None else f
    g = torch.zeros_like(q) if g is None else g
    values = torch.zeros(B, dtype=torch.float64, device=p.device)
    iterations = torch.zeros(B, dtype=torch.long, device=p.device)
    matvecs = torch.zeros(B, dtype=torch.long, device=p.device)
    plans: list[torch.Tensor | None] = [None] * B
    potentials: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * B
    active = torch.arange(B, device=p.device)
    settled = torch.zeros(B, dtype=torch.bool, device=p.device)
    work = torch.empty_like(T)

    for it in range(1, options.max_iter + 1):
        # M = 2 (const - C1 T 2 C2), the linearised cost; infinite on padded entries, which
        # gives them zero kernel and zero plan mass.
        M = torch.bmm(torch.bmm(C1, T), h2)
        M.sub_(const).mul_(-2.0).masked_fill_(padding, math.inf)
        # One exact log-domain Sinkhorn step re-centres the potentials on the new cost.
        torch.sub(g.unsqueeze(1), M, out=work).div_(eps)
        f = torch.where(row_mask, eps * (log_p - _logsumexp_(work, 2, floor)), 0.0)
        torch.sub(f.unsqueeze(2), M, out=work).div_(eps)
        g = torch.where(col_mask, eps * (log_q - _logsumexp_(work, 1, floor)), 0.0)
        K = M.neg_().add_(f.unsqueeze(2)).add_(g.unsqueeze(1)).div_(eps)
        K.clamp_min_(floor).exp_()
        Kt = K.transpose(1, 2).contiguous()
        u, v, marginal_error, products = _sinkhorn(K, Kt, p, q, options)
        matvecs[active[~settled]] += products[~settled]
        f = torch.where(row_mask, f + eps * u.clamp_min(1e-30).log(), 0.0)
        g = torch.where(col_mask, g + eps * v.clamp_min(1e-30).log(), 0.0)
        T_new = K.mul_(u.unsqueeze(2)).mul_(v.unsqueeze(1))

        change = torch.sub(T_new, T, out=work).flatten(1).norm(dim=1)
        change /= T_new.flatten(1).norm(dim=1).clamp_min(1e-30)
        T = T_new
        # Sinkhorn is warm-started and may stop early inside an outer step, so a pair is done
        # only when its plan has stopped moving and its marginals hold.
        converged = (change < options.tol) & (marginal_error < options.inner_tol)
        done = (converged | (it == options.max_iter)) & ~settled
        if done.any():
            tens = const[done] - C1[done] @ T[done] @ h2[done]
            finished = active[done]
            values[finished] = (tens * T[done]).sum((1, 2)).double()
            iterations[finished] = it
            if want_plans:
                for local, index in zip(
                    done.nonzero().flatten().tolist(), finished.tolist(), strict=True
                ):
                    # Copies: a view would keep the whole batch's (B, n, m) tensor alive.
                    plans[index] = T[local].to("cpu", copy=True)
                    potentials[index] = (
                        f[local].to("cpu", copy=True),
                        g[local].to("cpu", copy=True),
                    )
            settled |= done
        # A finished pair stays in the batch (its result is recorded) until a quarter of the
        # batch has finished: dropping it copies the whole batch's C1. HC's clustering of the
        # default run's class took 34.5 s dropping each pair at once, 30.8 s so, and 95 s when
        # finished pairs stayed until the batch's last.
        n_settled = int(settled.sum())
        if n_settled == len(settled):
            break
        if n_settled * 4 >= len(settled):
            keep = ~settled
            active = active[keep]
            C1, p, C2, q, h2, const = C1[keep], p[keep], C2[keep], q[keep], h2[keep], const[keep]
            T, f, g, work, padding = T[keep], f[keep], g[keep], work[keep], padding[keep]
            row_mask, col_mask, log_p, log_q = (
                row_mask[keep],
                col_mask[keep],
                log_p[keep],
                log_q[keep],
            )
            settled = settled[keep]
    return values, iterations, plans, potentials, matvecs


def _sinkhorn(K, Kt, p, q, options: GWOptions):
    """Sinkhorn scalings u (B, n), v (B, m) of the kernel K (B, n, m) (Kt its transpose,
    contiguous) for marginals p, q.

    Each pair leaves the batch once its marginals' L1 error is below inner_tol, so a pair
    that needs hundreds of iterations at a small epsilon does not make the others run them too
    (on the HC operating point, one pair in 30 decides the batch's count). Returns u, v, each
    pair's last marginal error (B,) and its kernel-vector products (B,).

    With inner_relaxation w > 1 each update is over-relaxed, u <- u (p / (u K v))^w (and v
    alike), the scheme of Thibault, Chizat, Dossal and Papadakis (2017, "Overrelaxed
    Sinkhorn-Knopp"): the same fixed point, reached in fewer products where epsilon is small.
    The error is then the row plus the column marginal's, since neither update leaves its
    marginal exact; with w = 1 the column update does, and the row error alone is checked.

    The products are taken as row vector times matrix, v^T K^T and u^T K: on the CPU that
    runs 2.8x faster than K v and K^T u (float32, (71, 424, 32): 0.05 against 0.14 ms), the
    long axis being the one vectorised. Padded entries of p and q are zero, so are those of
    u and v without a mask."""
    B = p.shape[0]
    every = options.inner_check_every
    relax = options.inner_relaxation
    u, v = torch.zeros_like(p), torch.ones_like(q)
    error = torch.full((B,), math.inf, dtype=K.dtype, device=K.device)
    steps = torch.zeros(B, dtype=torch.long, device=K.device)
    live = torch.arange(B, device=K.device)
    K_live, Kt_live, p_live, q_live = K, Kt, p.unsqueeze(1), q.unsqueeze(1)
    u_live, v_live = u.unsqueeze(1), v.unsqueeze(1)
    # v^T K^T, the row sums' factor, is carried from the end of one step to the next, where
    # it also gives the row marginal's error at the checks.
    row_factor = torch.bmm(v_live, Kt_live)
    for inner in range(1, options.inner_max_iter + 1):
        if relax == 1.0 or inner == 1:
            u_live = p_live / row_factor.clamp_min_(1e-30)
            col_factor = torch.bmm(u_live, K_live)
            v_live = q_live / col_factor.clamp_min(1e-30)
        else:
            u_live = u_live * (p_live / (u_live * row_factor).clamp_min_(1e-30)).pow_(relax)
            col_factor = torch.bmm(u_live, K_live)
            v_live = v_live * (q_live / (v_live * col_factor).clamp_min_(1e-30)).pow_(relax)
        row_factor = torch.bmm(v_live, Kt_live)
        last = inner == options.inner_max_iter
        if inner % every == 0 or last:
            live_error = (u_live * row_factor).sub_(p_live).abs_().sum((1, 2))
            if relax != 1.0:
                live_error += (v_live * col_factor).sub_(q_live).abs_().sum((1, 2))
            error[live] = live_error
            converged = live_error < options.inner_tol
            if last or converged.all():
                break
            if converged.any():
                u[live], v[live] = u_live.squeeze(1), v_live.squeeze(1)
                steps[live[converged]] = inner
                keep = ~converged
                live = live[keep]
                K_live, Kt_live = K_live[keep], Kt_live[keep]
                p_live, q_live = p_live[keep], q_live[keep]
                u_live, v_live, row_factor = u_live[keep], v_live[keep], row_factor[keep]
    u[live], v[live] = u_live.squeeze(1), v_live.squeeze(1)
    steps[live] = inner
    # Two products a step and the first row factor.
    products = 2 * steps + 1
    return u, v, error, products


def _check_starts(pairs, starts, name: str, sizes) -> None:
    """Each given start must have the (X.size, Y.size) of its pair, by `sizes(start)`."""
    if starts is None:
        return
    if len(starts) != len(pairs):
        raise ValueError(f"{name} has {len(starts)} entries for {len(pairs)} pairs")
    for (x, y), start in zip(pairs, starts, strict=True):
        if start is not None and sizes(start) != (x.size, y.size):
            raise ValueError(
                f"{name}: shape {sizes(start)} for a pair of sizes ({x.size}, {y.size})"
            )


_SLACK = 32  # points of size difference a bucket tolerates besides the 12.5 %


# float32, on the CPU as on CUDA. On the CPU, float32 had run the HC operating point 3.4x
# slower than float64 until every exp's argument was clamped above the underflow (_exp_floor):
# exp and logsumexp of arguments whose result underflows are 30-65x slower in float32 there.
# Clamped, float32 clustered the default run's class in 29.0 s against 54.6 s in float64 with
# the same code, flagging the same samples (distances within 0.65 %).
DEFAULT_DTYPE = torch.float32


def gromov_wasserstein(
    pairs: Sequence[tuple[MetricMeasure, MetricMeasure]],
    options: GWOptions = GWOptions(),
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    return_plans: bool = False,
    max_batch_elements: int = 2**24,
    initial_plans: Sequence[torch.Tensor | None] | None = None,
    initial_potentials: Sequence[tuple[torch.Tensor, torch.Tensor] | None] | None = None,
) -> GWResult:
    """Entropic GW loss of every (X, Y) pair; plans[i] is (X.size, Y.size) when requested.

    initial_plans[i], when given, is where pair i's iteration starts instead of p q^T: a plan
    of a nearby problem (the same sample against a centre that has moved a little) lets the
    solver finish in a few outer iterations, and keeps it in the same basin.
    initial_potentials[i] = (f, g), the potentials returned with that plan, spares Sinkhorn
    its own restart: without them, the projections rather than the plan decide the count.

    Pairs are sorted by size and cut into buckets whose padded (B, n, m) tensors hold at most
    `max_batch_elements` entries, so padding stays small and memory bounded. dtype: see
    DEFAULT_DTYPE.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype is None:
        dtype = DEFAULT_DTYPE
    P = len(pairs)
    _check_starts(pairs, initial_plans, "initial_plans", lambda plan: tuple(plan.shape))
    _check_starts(pairs, initial_potentials, "initial_potentials", lambda fg: tuple(map(len, fg)))
    values = torch.zeros(P, dtype=torch.float64)
    iterations = torch.zeros(P, dtype=torch.long)
    padded_sizes = torch.zeros(P, 2, dtype=torch.long)
    sinkhorn_matvecs = torch.zeros(P, dtype=torch.long)
    plans: list[torch.Tensor] | None = [torch.empty(0)] * P if return_plans else None
    potentials: list[tuple[torch.Tensor, torch.Tensor]] | None = (
        [(torch.empty(0), torch.empty(0))] * P if return_plans else None
    )

    # Sorted by a geometric bin of the X size, then by Y size: a bucket holds pairs whose X
    # and Y sizes both lie within ~12.5 % (plus a few points), so padding stays small for
    # all-pairs problems too. The slack of `SLACK` points keeps small problems in few
    # buckets: there the per-solve overhead, not the padding, is what costs.
    def x_bin(size: int) -> int:
        return int(math.log(size + _SLACK) / math.log(1.125))

    order = sorted(range(P), key=lambda i: (x_bin(pairs[i][0].size), pairs[i][1].size))
    start = 0
    while start < P:
        first_x, first_y = pairs[order[start]]
        n, m_max = first_x.size, first_y.size
        stop = start + 1
        while stop < P:
            nx, my = pairs[order[stop]]
            n_new, m_new = max(n, nx.size), max(m_max, my.size)
            if x_bin(nx.size) != x_bin(first_x.size) or my.size > 1.125 * first_y.size + _SLACK:
                break
            if (stop - start + 1) * (
                n_new * n_new + n_new * m_new * 4 + m_new * m_new
            ) > max_batch_elements:
                break
            n, m_max = n_new, m_new
            stop += 1
        bucket = order[start:stop]
        C1, p = _pad_batch([pairs[i][0] for i in bucket], n, device, dtype)
        C2, q = _pad_batch([pairs[i][1] for i in bucket], m_max, device, dtype)
        T0 = None
        if initial_plans is not None and any(initial_plans[i] is not None for i in bucket):
            T0 = p.unsqueeze(-1) * q.unsqueeze(1)
            for local, i in enumerate(bucket):
                start_plan = initial_plans[i]
                if start_plan is not None:
                    rows, cols = start_plan.shape
                    T0[local, :rows, :cols] = start_plan.to(device=device, dtype=dtype)
        f0 = g0 = None
        if initial_potentials is not None and any(
            initial_potentials[i] is not None for i in bucket
        ):
            f0, g0 = torch.zeros_like(p), torch.zeros_like(q)
            for local, i in enumerate(bucket):
                if initial_potentials[i] is not None:
                    f_start, g_start = initial_potentials[i]
                    f0[local, : len(f_start)] = f_start.to(device=device, dtype=dtype)
                    g0[local, : len(g_start)] = g_start.to(device=device, dtype=dtype)
        v, it, bucket_plans, bucket_potentials, products = _solve_padded(
            C1, p, C2, q, options, return_plans, T0, f0, g0
        )
        index = torch.tensor(bucket)
        values[index] = v.cpu()
        iterations[index] = it.cpu()
        padded_sizes[index] = torch.tensor([n, m_max])
        sinkhorn_matvecs[index] = products.cpu()
        if plans is not None:
            for local, i in enumerate(bucket):
                x, y = pairs[i]
                plans[i] = bucket_plans[local][: x.size, : y.size]
                f_end, g_end = bucket_potentials[local]
                potentials[i] = (f_end[: x.size], g_end[: y.size])
        start = stop
    return GWResult(values, iterations, plans, potentials, padded_sizes, sinkhorn_matvecs)


def pairwise_gw(
    spaces: Sequence[MetricMeasure],
    options: GWOptions = GWOptions(),
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(N, N) symmetric matrix of GW losses between all spaces (zero diagonal), for embeddings."""
    n = len(spaces)
    # The square-loss GW value is symmetric; the larger space first makes X sizes coarser
    # to bin, so buckets fill better.
    index = [
        (i, j) if spaces[i].size >= spaces[j].size else (j, i)
        for i in range(n)
        for j in range(i + 1, n)
    ]
    values = gromov_wasserstein(
        [(spaces[i], spaces[j]) for i, j in index], options, device=device
    ).values
    matrix = torch.zeros(n, n, dtype=torch.float64)
    if index:
        rows, cols = torch.tensor(index).T
        matrix[rows, cols] = values
        matrix[cols, rows] = values
    return matrix
