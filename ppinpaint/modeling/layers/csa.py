"""Coherent Semantic Attention (CSA, Liu et al., ICCV 2019, Sec. 3.2, Eq. 1-4).

Search: every feature position is matched against the known (non-hole) positions by cosine
similarity (the candidate is L2-normalised, the query is not, as the official
``NonparametricShift``), giving a best match ``m_t`` and its score ``v_t`` per hole position.
Generation: hole positions are visited in raster order; the first takes its best match, each
next one mixes the previous generated feature with its own best match (Eq. 3-4):

    s_t   = <out_{t-1}, x_t / (|x_t| + 1e-8)>
    out_t = s_t / (s_t + v_t) * out_{t-1} + v_t / (s_t + v_t) * x[m_t]

The official ``CSAFunction`` runs this as a Python double loop over all 32x32 positions per
sample, builds a Conv2d inside the loop and syncs with the host at every step. Here, per sample:
one matrix product gives the raw similarities of the hole features with the known ones
(``R = X_hole^T X_known``); every ``out_t`` is a combination of the distinct best matches ``c_u``, so
``s_t = sum_u a_{t-1,u} R[t, c_u] / |x_t|`` and the recurrence runs on scalars (numpy, host side),
yielding the compact attention ``a`` [holes, distinct matches] exactly as the official
``in_attention`` accumulates it; the output and both backward rules are then one product each
with ``a`` (the [HW, HW] attention matrix is never built). Each sample uses its own mask (the
official forces batch 1 and caches the first mask forever). Known positions are copied exactly
(the official copies their best match, which is the position itself for any non-degenerate
feature).

Export: a static graph cannot call numpy, so when traced (``paddle.jit.to_static``) the layer runs
:func:`csa_graph` instead: the same search and Eq. 3-4 on the features themselves (no attention
matrix; no gradient, inference only), one loop step per position for the whole batch.
"""
from typing import List, NamedTuple, Optional

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle import nn
from paddle.autograd import PyLayer

MODES = ("official", "paper")


def csa_feature_mask(mask: paddle.Tensor, levels: int = 3, threshold: float = 5.0 / 16.0) -> paddle.Tensor:
    """Image mask [N,1,H,W] (1 = hole) -> feature mask [N,1,H/2^levels,W/2^levels] as float 0/1.

    Official ``util.cal_feat_mask``: ``levels`` chained 4x4 / stride 2 / pad 1 convs with every
    weight 1/16 (an average pool counting the zero padding), then ``> threshold``.
    """
    x = mask.astype("float32")
    for _ in range(levels):
        x = F.avg_pool2d(x, kernel_size=4, stride=2, padding=1, exclusive=False)
    return (x > threshold).astype("float32")


class CSAPlan(NamedTuple):
    """One sample's attention: hole ``order`` [M] (raster), distinct best ``columns`` [U], ``attn`` [M,U]."""

    order: np.ndarray
    columns: np.ndarray
    attn: np.ndarray


def _recurrence(sim: np.ndarray, score: np.ndarray, slot: np.ndarray, clamp: bool) -> np.ndarray:
    """Eq. 3-4 on scalars: the [M,U] attention of each hole row over the distinct best matches.

    ``sim[t, u] = <x[c_u], x_t/|x_t|>``, ``score[t] = v_t``, ``slot[t]`` = u of m_t. Row t is the
    official ``in_attention[t]``: ``keep * row_{t-1}``, plus ``take`` at its own match. ``clamp``
    keeps both similarities >= 0 so that keep/take stay a convex pair: with negative similarities
    the official s/(s+v) leaves [0, 1] (or divides by ~0) and the recurrence diverges.
    """
    attn = np.zeros(sim.shape)
    score = np.maximum(score, 0.0) if clamp else score
    attn[0, slot[0]] = 1.0
    prev = attn[0]
    # Plain Python floats and as few numpy calls per step as possible (~1 us each): the steps
    # are sequential, so the loop overhead is the cost.
    for row, sim_t, v, k in zip(attn[1:], sim[1:], score[1:].tolist(), slot[1:].tolist()):
        s = float(np.dot(sim_t, prev))
        if clamp and s < 0.0:
            s = 0.0
        denom = s + v
        # A zero denominator (nothing to mix) keeps the best match alone.
        keep = s / denom if denom != 0.0 else 0.0
        np.multiply(prev, keep, out=row)
        row[k] += 1.0 - keep
        prev = row
    return attn


def _columns(channels: int, hw: int, positions: np.ndarray) -> np.ndarray:
    """Flat indices [C,P] of the given position columns of a [C,HW] array.

    ``take``/``put`` with flat indices move these strided columns ~3x faster than ``a[:, idx]``.
    """
    return np.add.outer(np.arange(channels) * hw, positions)


def _put_columns(dst: np.ndarray, positions: np.ndarray, values: np.ndarray) -> None:
    """dst[:, positions] = values for sorted positions ([C,HW], [P], [C,P])."""
    starts = np.flatnonzero(np.diff(positions, prepend=-2) != 1)
    if starts.size * 8 > positions.size:
        np.put(dst, _columns(*dst.shape, positions), values)
        return
    # A hole is mostly long raster runs: a slice copy per run is ~10x cheaper than a scatter.
    for i, j in zip(starts.tolist(), starts[1:].tolist() + [positions.size]):
        dst[:, positions[i]:positions[i] + j - i] = values[:, i:j]


def _plan(feats: np.ndarray, hole: np.ndarray, clamp: bool) -> Optional[CSAPlan]:
    """Search and recurrence of one sample (feats [C,HW] float32/64, hole [HW] bool); None = identity."""
    order, known = np.flatnonzero(hole), np.flatnonzero(~hole)
    # No hole: nothing to fill; no known position: nothing to borrow. Both leave x as it is.
    if order.size == 0 or known.size == 0:
        return None
    # |x| + 1e-8 as the official normalises both the candidates and the query.
    norms = np.sqrt(np.einsum("ch,ch->h", feats, feats)) + np.float32(1e-8)
    # The one large product (holes x known x C); it also holds every similarity the recurrence needs.
    raw = np.compress(hole, feats, axis=1).T @ np.compress(~hole, feats, axis=1)     # [M,K]
    scores = raw / norms[known]
    best = scores.argmax(axis=1)
    value = scores[np.arange(order.size), best]
    distinct, slot = np.unique(best, return_inverse=True)
    sim = raw[:, distinct] / norms[order][:, None]
    attn = _recurrence(sim.astype(np.float64), value.astype(np.float64), slot, clamp)
    return CSAPlan(order, known[distinct], attn.astype(np.float32))


def _plans(feats: np.ndarray, hole: np.ndarray, clamp: bool) -> List[Optional[CSAPlan]]:
    """One plan per sample: feats [N,C,HW], hole [N,HW] bool (each sample its own mask)."""
    return [_plan(f, h, clamp) for f, h in zip(feats, hole)]


def csa_search(x: paddle.Tensor, feat_mask: paddle.Tensor, clamp: bool = True) -> List[Optional[CSAPlan]]:
    """Best matches and attention (numpy, no gradient) for every sample's own hole: one plan per sample."""
    n, c, h, w = x.shape
    hole = feat_mask.numpy().reshape(n, h * w) > 0.5
    return _plans(x.detach().astype("float32").numpy().reshape(n, c, h * w), hole, clamp)


def dense_attention(plans: List[Optional[CSAPlan]], hw: int) -> np.ndarray:
    """The official attention matrix A [N,HW,HW] (output = A @ x per position): identity on known rows."""
    attn = np.tile(np.eye(hw, dtype=np.float32), (len(plans), 1, 1))
    for i, plan in enumerate(plans):
        if plan is not None:
            attn[i, plan.order] = 0.0
            attn[i, plan.order[:, None], plan.columns[None, :]] = plan.attn
    return attn


def _fill(feats: np.ndarray, plans: List[Optional[CSAPlan]]) -> np.ndarray:
    """A @ x per sample in the [N,C,HW] layout: hole columns rebuilt from the distinct matches."""
    out = feats.copy()
    for x, y, plan in zip(feats, out, plans):
        if plan is not None:
            _put_columns(y, plan.order, x.take(_columns(*x.shape, plan.columns)) @ plan.attn.T)
    return out


def _transpose_fill(grad: np.ndarray, plans: List[Optional[CSAPlan]], truncate: bool) -> np.ndarray:
    """g @ A per sample ([N,C,HW]): the transpose of :func:`_fill`, with A truncated toward 0 if asked."""
    out = grad.copy()
    for g, y, plan in zip(grad, out, plans):
        if plan is None:
            continue
        _put_columns(y, plan.order, np.zeros((1, plan.order.size), y.dtype))
        attn = np.trunc(plan.attn) if truncate else plan.attn
        # After truncation only the few weights of exactly 1 survive: multiply just those rows/columns.
        rows, cols = np.flatnonzero(attn.any(axis=1)), np.flatnonzero(attn.any(axis=0))
        if rows.size:
            # Distinct columns, so a read-add-write is the scatter-add.
            target = _columns(*g.shape, plan.columns[cols])
            np.put(y, target, y.take(target) + g.take(_columns(*g.shape, plan.order[rows])) @ attn[np.ix_(rows, cols)])
    return out


def _host(t: paddle.Tensor) -> np.ndarray:
    """Numpy view of a tensor (read only by convention): zero-copy on CPU, where ``.numpy()`` copies at ~2 GB/s."""
    t = t.detach()
    return np.from_dlpack(t) if t.place.is_cpu_place() else t.numpy()


def _device(a: np.ndarray, like: paddle.Tensor) -> paddle.Tensor:
    """Tensor over a fresh numpy array on ``like``'s device: zero-copy on CPU (``to_tensor`` copies)."""
    if like.place.is_cpu_place():
        return paddle.from_dlpack(np.ascontiguousarray(a))
    return paddle.to_tensor(a, place=like.place)


def _linear_scan(a: paddle.Tensor, b: paddle.Tensor, steps: paddle.Tensor) -> paddle.Tensor:
    """All y_t = a_t * y_{t-1} + b_t (y_{-1} = 0) along axis 1 in ceil(log2 P) parallel steps (Hillis-Steele).

    Step d composes each map with the one d rows before it, ``(a, b) o (a', b') = (a a', a b' + b)``;
    rows with nothing d rows before stay as they are.
    """
    index = paddle.arange(steps)

    def more(d, a, b):
        return d < steps

    def compose(d, a, b):
        src = index - d
        before = (src >= 0).astype("float32").reshape([1, -1, 1])
        src = paddle.clip(src, min=0)
        b = b + before * a * b.index_select(src, axis=1)
        return d + d, a * (before * a.index_select(src, axis=1) + (1.0 - before)), b

    return paddle.static.nn.while_loop(more, compose, [paddle.ones([1], "int64"), a, b])[2]


def csa_graph(x: paddle.Tensor, feat_mask: paddle.Tensor, clamp: bool = True) -> paddle.Tensor:
    """CSA forward as Paddle ops only (what export traces): [N,C,h,w] features, [N,1,h,w] mask (1 = hole).

    Equals the layer's forward (:func:`_plan`, :func:`_recurrence`, :func:`_fill`) without the
    attention: ``out_t = out_{t-1} + take_t * (x[m_t] - out_{t-1})``, ``take = 1 - keep``, is Eq. 3-4
    applied to the features, in float32. One loop step per position that is a hole in any sample, for
    all samples at once; a sample's ``out_{t-1}`` is carried unchanged through its known positions
    (take = 0), so each keeps its mask. The loop yields the weights only; the rows follow from them by
    :func:`_linear_scan`.
    """
    shape = paddle.shape(x)
    zero = paddle.zeros([], "float32")      # one constant, not one op per loop step
    feats = x.reshape([0, 0, -1])                                                   # [N,C,HW]
    hole = feat_mask.reshape([0, -1]) > 0.5                                         # [N,HW]
    known = paddle.logical_not(hole)
    # A sample without a known position has nothing to borrow: identity, as _plan's None.
    hole = paddle.logical_and(hole, known.any(axis=1, keepdim=True))
    norms = paddle.sqrt((feats * feats).sum(axis=1)) + 1e-8                         # [N,HW]
    # The loop's positions in raster order: every hole of any sample, and position 0 so that there
    # is at least one (Paddle 3.3.1 Inference misreads gathers with an empty index). A step where
    # a sample has no hole leaves it unchanged.
    visited = paddle.logical_or(hole.any(axis=0), paddle.arange(paddle.shape(hole)[1]) == 0)        # [HW]
    positions = paddle.nonzero(visited).reshape([-1])                               # [P]
    holes = feats.index_select(positions, axis=2)                                   # [N,C,P]
    # Each of them against every candidate (the known columns compete): [N,P,HW].
    # Holes as candidates score -inf: added, since a traced `where` of mixed shapes broadcasts its
    # operands by three full-size additions.
    barred = paddle.where(known, paddle.zeros_like(norms), paddle.full_like(norms, -np.inf))   # [N,HW]
    scores = paddle.bmm(holes.transpose([0, 2, 1]), feats) / norms.unsqueeze(1) + barred.unsqueeze(1)
    value = scores.max(axis=2, keepdim=True)                                        # [N,P,1]
    # Each best candidate by its (sample, position) pair: take_along_axis needs an expand_as, which
    # paddle2onnx 2.1.0 converts to an ONNX Expand of a constant shape.
    best = scores.argmax(axis=2)                                                    # [N,P]
    index = paddle.stack([paddle.zeros_like(best) + paddle.arange(shape[0]).unsqueeze(1), best], axis=2)
    match = paddle.gather_nd(feats.transpose([0, 2, 1]), index)                   # [N,P,C]
    query = holes / norms.index_select(positions, axis=1).unsqueeze(1)              # [N,C,P]
    step_hole = hole.index_select(positions, axis=1).astype("float32").unsqueeze(2)   # [N,P,1]
    # -inf (a sample without known positions) where the sample has no hole: unused, but 0 * -inf is nan.
    value = paddle.where(step_hole > 0.5, value, paddle.zeros_like(value))
    if clamp:
        # max(s, 0) + v = max(s + v, v) for v >= 0. v at least float32's smallest normal makes
        # s = v = 0 (a first hole, or nothing similar) take the match alone, as _recurrence's
        # keep = 0; it moves only a denormal v.
        value = paddle.maximum(value, paddle.full([], np.finfo(np.float32).tiny, "float32"))
        floor = value
    else:
        floor = step_hole       # a zero denominator (nothing to mix) takes the match alone: keep = 0
    # take = 1 - s/(s+v) = v/(s+v) at a hole; h * v = 0 where the sample has none, so it keeps prev.
    weight = step_hole * value
    # s + v as one product: the query gets v as an extra channel, prev a constant 1 (which the update keeps).
    query = paddle.concat([query, value.transpose([0, 2, 1])], axis=1)              # [N,C+1,P]
    ones = paddle.ones_like(value)
    extended = paddle.concat([match, ones], axis=2)                                 # [N,P,C+1]
    steps = paddle.shape(positions)[0]

    def more(p, prev, takes):
        return p < steps

    # The loop's cost is its op count (12 per step; one bmm gives s + v). Under Paddle Inference with
    # oneDNN, its add, subtract and multiply take ~0.6 ms each on these vectors (Paddle's own ~20 us).
    def step(p, prev, takes):
        q = query.index_select(p, axis=2)                                           # [N,C+1,1]
        denom = paddle.bmm(prev, q)                                                 # s + v, [N,1,1]
        w, f = weight.index_select(p, axis=1), floor.index_select(p, axis=1)
        if clamp:
            take = w / paddle.maximum(denom, f)
        else:
            take = paddle.where(denom != zero, w / denom, f)
        # prev is 0 up to a sample's first hole, so s = 0 and take = 1 there: the match alone.
        prev = prev + take * (extended.index_select(p, axis=1) - prev)
        # Only the weights leave the loop: a [P,N,C] output or a tensor array written per step
        # would be copied every step, and paddle2onnx 2.1.0 loses tensor arrays written in a loop.
        return p + 1, prev, paddle.scatter(takes, p, take.reshape([1, -1, 1]))

    start = [paddle.zeros([1], "int64"), paddle.concat([paddle.zeros_like(match[:, :1]), ones[:, :1]], axis=2),
             paddle.zeros_like(step_hole.transpose([1, 0, 2]))]
    takes = paddle.static.nn.while_loop(more, step, start)[2].transpose([1, 0, 2])  # [N,P,1]
    # out_t = (1 - take_t) out_{t-1} + take_t m_t, all t at once.
    filled = _linear_scan(1.0 - takes, takes * match, steps)                         # [N,P,C]
    # Each position's step row; positions never visited read row 0 and are known anyway.
    row = paddle.clip(paddle.cumsum(visited.astype("int64")) - 1, min=0)
    filled = filled.index_select(row, axis=1).transpose([0, 2, 1])                  # [N,C,HW]
    # Known positions are copied exactly (a 0/1 blend: a traced `where` of mixed shapes costs more).
    h = hole.astype("float32").unsqueeze(1)
    return (h * filled + (1.0 - h) * feats).reshape(shape)


class _CSAFunction(PyLayer):
    """Forward A @ x; backward A^T g (``paper``) or the official ``g + w * trunc(A)^T g``.

    The official stores the attention in a LongTensor, so every fractional weight is truncated
    toward 0 (only one-hot rows survive), and adds the incoming gradient once more (as if the
    layer were x + A x). Reproduced on purpose in ``mode: official``.
    """

    @staticmethod
    def forward(ctx, x: paddle.Tensor, hole: np.ndarray, clamp: bool, official: bool,
                triple_weight: float) -> paddle.Tensor:
        # [N,C,h,w] -> [N,C,HW] as numpy views: no Paddle reshape ops (nor their backward nodes).
        feats = _host(x)
        feats = feats.reshape(feats.shape[0], feats.shape[1], -1)
        ctx.plans = _plans(feats, hole, clamp)
        ctx.official, ctx.triple_weight = official, triple_weight
        return _device(_fill(feats, ctx.plans).reshape(x.shape), x)

    @staticmethod
    def backward(ctx, grad: paddle.Tensor):
        g = _host(grad)
        g = g.reshape(g.shape[0], g.shape[1], -1)
        if not ctx.official:
            return _device(_transpose_fill(g, ctx.plans, truncate=False).reshape(grad.shape), grad)
        # Official W^T g on positions: g @ trunc(A) in this layout, plus g itself.
        grad_in = _transpose_fill(g, ctx.plans, truncate=True)
        grad_in *= np.float32(ctx.triple_weight)
        grad_in += g
        return _device(grad_in.reshape(grad.shape), grad)


class CoherentSemanticAttention(nn.Layer):
    """CSA(x, feat_mask): x [N,C,h,w], feat_mask [N,1,h,w] (1 = hole, see :func:`csa_feature_mask`).

    ``mode: official`` back-propagates with the official truncated rule; ``paper`` gives the
    exact gradient of ``A @ x`` with the attention weights held constant (the argmax search is
    not differentiable and the mixing weights are treated as selections, as in Eq. 4).
    """

    def __init__(self, mode: str = "paper", triple_weight: float = 1.0, clamp: bool = True) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"CSA mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.triple_weight = float(triple_weight)
        self.clamp = bool(clamp)

    def forward(self, x: paddle.Tensor, feat_mask: paddle.Tensor) -> paddle.Tensor:
        """Fill the hole positions of ``x`` by coherent semantic attention."""
        if not paddle.in_dynamic_mode():    # traced for export: no host code, symbolic sizes
            return csa_graph(x, feat_mask, self.clamp)
        if x.ndim != 4:
            raise ValueError(f"CSA expects x [N,C,h,w], got shape {list(x.shape)}")
        n, c, h, w = x.shape
        if list(feat_mask.shape) != [n, 1, h, w]:
            raise ValueError(f"CSA feat_mask must be [N,1,h,w] = {[n, 1, h, w]}, got {list(feat_mask.shape)}")
        hole = _host(feat_mask).reshape(n, h * w) > 0.5
        if x.dtype in (paddle.float32, paddle.float64):
            return _CSAFunction.apply(x, hole, self.clamp, self.mode == "official", self.triple_weight)
        # The host-side maths runs in float32 for any autocast dtype; the casts keep the gradient.
        out = _CSAFunction.apply(x.astype("float32"), hole, self.clamp, self.mode == "official", self.triple_weight)
        return out.astype(x.dtype)
