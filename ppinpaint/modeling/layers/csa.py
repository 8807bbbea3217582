"""Coherent Semantic Attention (CSA, Liu et al., ICCV 2019, Sec. 3.2, Eq. 1-4).

Search: every feature position is matched against the known (non-hole) positions by cosine
similarity (the candidate is L2-normalised, the query is not, as the official
``NonparametricShift``), giving a best match ``m_t`` and its score ``v_t`` per hole position.
Generation: hole positions are visited in raster order; the first takes its best match, each
next one mixes the previous generated feature with its own best match (Eq. 3-4):

    s_t   = <out_{t-1}, x_t / (|x_t| + 1e-8)>
    out_t = s_t / (s_t + v_t) * out_{t-1} + v_t / (s_t + v_t) * x[m_t]

The official ``CSAFunction`` runs this as a Python double loop over all 32x32 positions per
sample, builds a Conv2d inside the loop and syncs with the host at every step. Here the search
is one batched matrix product, and since every ``out_t`` is a combination of best-match features,
``s_t`` only needs the small matrix ``G[t, j] = <x[m_j], x_t / |x_t|>``: the recurrence runs on
scalars (numpy, vectorised over the batch) and the attention matrix then gives the output in one
batched product. Each sample uses its own mask (the official forces batch 1 and caches the first
mask forever). Known positions are copied exactly (the official copies their best match, which is
the position itself for any non-degenerate feature).
"""
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


def _mixing_weights(gram: np.ndarray, score: np.ndarray, count: np.ndarray, clamp: bool) -> np.ndarray:
    """Run the Eq. 3-4 recurrence on scalars: [N,M,M] weights of the best matches per hole row.

    ``gram[n, t, j] = <x[m_j], x_t/|x_t|>``, ``score[n, t] = v_t``, ``count[n]`` = holes of sample n
    (rows past it are padding and come out zero). Row t of the result holds out_t as a combination
    of x[m_0..m_t]. ``clamp`` keeps both similarities
    >= 0 so that keep/take stay a convex pair: with negative similarities the official s/(s+v)
    leaves [0, 1] (or divides by ~0) and the recurrence diverges.
    """
    n, m = score.shape
    weights = np.zeros((n, m, m))
    if m == 0:
        return weights
    v_all = np.maximum(score, 0.0) if clamp else score
    w = np.zeros((n, m))
    w[:, 0] = 1.0
    weights[:, 0, 0] = 1.0
    keep = np.zeros(n)
    for t in range(1, m):
        s = np.einsum("nj,nj->n", gram[:, t, :t], w[:, :t])
        if clamp:
            np.maximum(s, 0.0, out=s)
        denom = s + v_all[:, t]
        # keep = s/(s+v), take = v/(s+v) = 1 - keep; a zero denominator (nothing to mix) keeps
        # the best match alone.
        keep[:] = 0.0
        np.divide(s, denom, out=keep, where=denom != 0.0)
        w[:, :t] *= keep[:, None]
        w[:, t] = 1.0 - keep
        weights[:, t, :t + 1] = w[:, :t + 1]
    # Rows past a sample's own hole count are padding (they never feed earlier rows).
    valid = np.arange(m)[None, :] < count[:, None]
    return weights * (valid[:, :, None] & valid[:, None, :])


def _bmm_tn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a^T @ b per sample ([N,C,M], [N,C,K] -> [N,M,K]) through Paddle's GEMM (faster than numpy's here)."""
    return paddle.matmul(paddle.to_tensor(a), paddle.to_tensor(b), transpose_x=True).numpy()


def csa_search(x: paddle.Tensor, feat_mask: paddle.Tensor, clamp: bool = True):
    """Best matches and mixing weights (numpy, no gradient) for every sample's own hole.

    Returns ``order`` [N,M] (hole positions in raster order, the official visiting order, padded),
    ``matches`` [N,M] (best known position of each) and ``weights`` [N,M,M] (zero on padding).
    """
    n, c, h, w = x.shape
    hw = h * w
    feats = x.detach().numpy().reshape(n, c, hw)                               # [N,C,HW]
    hole = feat_mask.numpy().reshape(n, hw) > 0.5
    # A sample without any known position has nothing to borrow: its features stay as they are.
    count = np.where((~hole).any(axis=1), hole.sum(axis=1), 0)
    m = int(count.max()) if n else 0
    order = np.argsort(~hole, axis=1, kind="stable")[:, :m]
    rows = np.arange(n)[:, None]
    # Candidates: each sample's known positions (raster order), padded with -inf scores.
    k = int((~hole).sum(axis=1).max()) if n else 0
    known = np.argsort(hole, axis=1, kind="stable")[:, :k]
    padding = np.take_along_axis(hole, known, axis=1)
    norms = np.sqrt(np.einsum("nch,nch->nh", feats, feats)) + 1e-8            # [N,HW]
    query = np.take_along_axis(feats, order[:, None, :], axis=2)               # [N,C,M]
    cand = np.take_along_axis(feats, known[:, None, :], axis=2) / norms[rows, known][:, None, :]
    scores = _bmm_tn(query, cand)                                              # [N,M,K]
    scores[np.broadcast_to(padding[:, None, :], scores.shape)] = -np.inf
    best_col = scores.argmax(axis=2) if m and k else np.zeros((n, m), dtype=np.int64)
    matches = np.take_along_axis(known, best_col, axis=1) if k else np.zeros((n, m), dtype=np.int64)
    best = np.take_along_axis(scores, best_col[:, :, None], axis=2)[:, :, 0] if m and k else np.zeros((n, m))
    # G[t, j] = <x[m_j], x_t / |x_t|> = score[t, col_j] * |x[m_j]| / |x_t|: no second product.
    gram = (np.take_along_axis(scores, np.broadcast_to(best_col[:, None, :], (n, m, m)), axis=2)
            * norms[rows, matches][:, None, :] / norms[rows, order][:, :, None]) if m and k else np.zeros((n, m, m))
    weights = _mixing_weights(gram.astype(np.float64), best.astype(np.float64), count, clamp)
    return order, matches, weights.astype(np.float32)


def dense_attention(order: np.ndarray, matches: np.ndarray, weights: np.ndarray, hw: int) -> np.ndarray:
    """The official attention matrix A [N,HW,HW] (output = A @ x): identity on known rows."""
    n, m = order.shape
    attn = np.tile(np.eye(hw, dtype=np.float32), (n, 1, 1))
    if m == 0:
        return attn
    rows = np.arange(n)[:, None, None]
    hole_rows = np.zeros((n, m, hw), dtype=np.float32)
    # Several j may share a match column: their weights add, as the official in_attention does.
    np.add.at(hole_rows, (rows, np.arange(m)[None, :, None], matches[:, None, :]), weights)
    valid = weights.any(axis=2) | (np.arange(m)[None, :] == 0) & (weights[:, :, 0] != 0)
    r_n, r_t = np.nonzero(valid)
    attn[r_n, order[r_n, r_t]] = hole_rows[r_n, r_t]
    return attn


def _fill(flat: paddle.Tensor, hole: paddle.Tensor, order: np.ndarray, matches: np.ndarray,
          weights: np.ndarray) -> paddle.Tensor:
    """flat [N,C,HW] with hole columns replaced by rows[matches] mixed by weights (differentiable)."""
    n, m = order.shape
    if m == 0:
        return flat
    c = flat.shape[1]
    matched = paddle.take_along_axis(flat, paddle.to_tensor(np.broadcast_to(matches[:, None, :], (n, c, m))), axis=2)
    filled = paddle.matmul(matched, paddle.to_tensor(weights), transpose_y=True)            # [N,C,M]
    # Padding columns carry zero weights, so adding them onto any position changes nothing.
    index = paddle.to_tensor(np.ascontiguousarray(np.broadcast_to(order[:, None, :], (n, c, m))))
    return paddle.put_along_axis(flat * (1.0 - hole), index, filled, axis=2, reduce="add")


class _OfficialBackward(PyLayer):
    """Forward as the paper; backward g + w * trunc(A)^T g, the official ``CSAFunction.backward``.

    The official stores the attention in a LongTensor, so every fractional weight is truncated
    toward 0 (only one-hot rows survive), and adds the incoming gradient once more (as if the
    layer were x + A x). Reproduced on purpose in ``mode: official``.
    """

    @staticmethod
    def forward(ctx, flat: paddle.Tensor, hole: paddle.Tensor, search: tuple, triple_weight: float) -> paddle.Tensor:
        ctx.search = search
        ctx.triple_weight = triple_weight
        return _fill(flat, hole, *search)

    @staticmethod
    def backward(ctx, grad: paddle.Tensor):
        order, matches, weights = ctx.search
        attn = np.trunc(dense_attention(order, matches, weights, grad.shape[2]))
        # grad is [N,C,HW]: the official W^T g on positions is g @ trunc(A) in this layout.
        return grad + ctx.triple_weight * paddle.bmm(grad, paddle.to_tensor(attn)), None


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
        if x.ndim != 4:
            raise ValueError(f"CSA expects x [N,C,h,w], got shape {list(x.shape)}")
        n, c, h, w = x.shape
        if list(feat_mask.shape) != [n, 1, h, w]:
            raise ValueError(f"CSA feat_mask must be [N,1,h,w] = {[n, 1, h, w]}, got {list(feat_mask.shape)}")
        search = csa_search(x, feat_mask, self.clamp)
        flat = x.reshape([n, c, h * w])
        hole = (feat_mask.reshape([n, 1, h * w]) > 0.5).astype(x.dtype)
        if self.mode == "official":
            out = _OfficialBackward.apply(flat, hole, search, self.triple_weight)
        else:
            out = _fill(flat, hole, *search)
        return out.reshape([n, c, h, w])

