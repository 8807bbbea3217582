"""CSA layer: official parity (forward, truncated backward), per-sample masks, edge masks, clamp."""
import os

import numpy as np
import paddle
import pytest

from ppinpaint.modeling.layers.csa import CoherentSemanticAttention, csa_feature_mask, csa_graph

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "csa")


def _case(name):
    z = np.load(os.path.join(DATA, f"case_{name}.npz"))
    return paddle.to_tensor(z["out/csa_in"]), paddle.to_tensor(z["in/mask"]), z


@pytest.mark.parametrize("name", ["center", "irregular"])
@pytest.mark.parametrize("mode", ["official", "paper"])
def test_forward_matches_official(name, mode):
    x, mask, z = _case(name)
    feat_mask = csa_feature_mask(mask)
    assert (feat_mask.numpy()[0, 0] == z["out/feat_mask"]).all()
    out = CoherentSemanticAttention(mode)(x, feat_mask).numpy()
    assert np.abs(out - z["out/csa_out"]).max() <= 1e-4


def test_official_backward_matches_official():
    """Gradient of the official CSAFunction (truncated LongTensor attention + the extra identity)."""
    x, mask, _ = _case("center")
    ref = np.load(os.path.join(DATA, "layer_backward.npz"))
    x.stop_gradient = False
    out = CoherentSemanticAttention("official")(x, csa_feature_mask(mask))
    out.backward(paddle.to_tensor(ref["grad_out"]))
    assert np.abs(x.grad.numpy() - ref["grad_in"]).max() <= 1e-3 * np.abs(ref["grad_in"]).max()


def test_paper_backward_is_the_product_gradient():
    """Paper mode: d(sum(A x * g))/dx = A^T g, checked against a finite difference."""
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(np.abs(rng.standard_normal((1, 4, 6, 6))).astype(np.float32), stop_gradient=False)
    fm = np.zeros((1, 1, 6, 6), np.float32)
    fm[..., 2:4, 1:5] = 1
    fm = paddle.to_tensor(fm)
    g = paddle.to_tensor(rng.standard_normal((1, 4, 6, 6)).astype(np.float32))
    layer = CoherentSemanticAttention("paper")
    (layer(x, fm) * g).sum().backward()
    from ppinpaint.modeling.layers.csa import csa_search, dense_attention
    attn = dense_attention(csa_search(x, fm), 36)[0]
    expected = (attn.T @ g.numpy().reshape(4, 36).T).T.reshape(1, 4, 6, 6)
    assert np.abs(x.grad.numpy() - expected).max() < 1e-5


def _official_loop(x, hole):
    """Independent transcription of the official CSAFunction on one sample: (output, in_attention rows).

    Features are [C,HW]; known rows of the attention are the identity (the layer copies them).
    """
    c, hw = x.shape
    known = np.flatnonzero(~hole)
    cand = x[:, known] / (np.linalg.norm(x[:, known], axis=0) + 1e-8)
    out, attn = x.copy(), np.eye(hw)
    prev_out, prev_row = None, None
    for t in np.flatnonzero(hole):
        scores = x[:, t] @ cand
        k = int(scores.argmax())
        v, match = max(scores[k], 0.0), known[k]
        row = np.zeros(hw)
        if prev_out is None:
            new, row[match] = x[:, match].copy(), 1.0
        else:
            s = max(float(prev_out @ (x[:, t] / (np.linalg.norm(x[:, t]) + 1e-8))), 0.0)
            keep = s / (s + v) if s + v else 0.0
            new = keep * prev_out + (1 - keep) * x[:, match]
            row = prev_row * keep
            row[match] += 1 - keep
        out[:, t], attn[t] = new, row
        prev_out, prev_row = new, row
    return out, attn


@pytest.mark.parametrize("pattern", ["rectangle", "scattered"])
@pytest.mark.parametrize("mode", ["official", "paper"])
def test_matches_a_loop_transcription(pattern, mode):
    """Output and both backward rules against the official per-position loop (long runs and isolated holes)."""
    rng = np.random.default_rng(1)
    x = np.abs(rng.standard_normal((2, 5, 16, 16))).astype(np.float32)
    holes = np.zeros((2, 16, 16), bool)
    if pattern == "rectangle":
        # Rows of 10 and 12 positions: the layer writes these as slices, isolated holes by scatter.
        holes[0, 3:9, 2:12], holes[1, 6:10, 4:16] = True, True
    else:
        holes[:] = rng.random((2, 16, 16)) < 0.3
    g = rng.standard_normal(x.shape).astype(np.float32)
    xt = paddle.to_tensor(x, stop_gradient=False)
    out = CoherentSemanticAttention(mode, triple_weight=0.5)(xt, paddle.to_tensor(holes[:, None].astype(np.float32)))
    out.backward(paddle.to_tensor(g))
    for i in range(2):
        ref, attn = _official_loop(x[i].reshape(5, 256).astype(np.float64), holes[i].ravel())
        gi = g[i].reshape(5, 256).astype(np.float64)
        grad = gi + 0.5 * gi @ np.trunc(attn) if mode == "official" else gi @ attn
        assert np.abs(out.numpy()[i].reshape(5, 256) - ref).max() < 1e-5
        assert np.abs(xt.grad.numpy()[i].reshape(5, 256) - grad).max() < 1e-5


def test_batch_of_two_masks_equals_two_single_runs():
    xa, ma, _ = _case("center")
    xb, mb, _ = _case("irregular")
    layer = CoherentSemanticAttention("official")
    fa, fb = csa_feature_mask(ma), csa_feature_mask(mb)
    both = layer(paddle.concat([xa, xb]), paddle.concat([fa, fb])).numpy()
    assert np.abs(both[:1] - layer(xa, fa).numpy()).max() < 1e-5
    assert np.abs(both[1:] - layer(xb, fb).numpy()).max() < 1e-5


def test_empty_and_full_masks():
    x, _, _ = _case("center")
    layer = CoherentSemanticAttention("paper")
    empty = paddle.zeros([1, 1, 32, 32])
    assert np.array_equal(layer(x, empty).numpy(), x.numpy())          # nothing to fill
    full = paddle.ones([1, 1, 32, 32])
    assert np.array_equal(layer(x, full).numpy(), x.numpy())           # nothing to borrow
    one_known = np.ones((1, 1, 32, 32), np.float32)
    one_known[..., 0, 0] = 0
    out = layer(x, paddle.to_tensor(one_known)).numpy()
    # Every hole position becomes the only known feature (a convex mix of copies of it).
    assert np.abs(out - x.numpy()[:, :, :1, :1]).max() < 1e-4


def test_clamp_guards_negative_similarities():
    """Random (sign-mixed) features: the official s/(s+v) leaves [0,1] and the recurrence diverges."""
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.standard_normal((1, 64, 32, 32)).astype(np.float32))
    fm = np.zeros((1, 1, 32, 32), np.float32)
    fm[..., 8:24, 8:24] = 1
    fm = paddle.to_tensor(fm)
    bound = np.abs(x.numpy()).max()
    clamped = CoherentSemanticAttention("paper", clamp=True)(x, fm).numpy()
    raw = CoherentSemanticAttention("paper", clamp=False)(x, fm).numpy()
    # Clamped: every hole feature is a convex mix of known ones, so it stays within their range.
    assert np.isfinite(clamped).all() and np.abs(clamped).max() <= bound + 1e-5
    assert not (np.isfinite(raw).all() and np.abs(raw).max() <= 10 * bound)


def _graph_batch(shift: float):
    """Sign-mixed features [4,6,12,12] and four masks: scattered, two rectangles, empty, full."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((4, 6, 12, 12)) + shift).astype(np.float32)
    masks = np.zeros((4, 1, 12, 12), np.float32)
    masks[0] = rng.random((1, 12, 12)) < 0.3
    masks[1, :, 2:7, 3:11], masks[1, :, 9:11, 0:4] = 1, 1
    masks[3] = 1
    return paddle.to_tensor(x), paddle.to_tensor(masks)


@pytest.mark.parametrize("clamp", [True, False])
def test_graph_forward_equals_the_layer(clamp):
    """csa_graph (what export traces) against the numpy path: traced with dynamic sizes, and called directly."""
    # Unclamped, sign-mixed features make the recurrence grow (see the test above): shifted
    # features keep it bounded, and the tolerance is relative to the output's size.
    x, masks = _graph_batch(0.0 if clamp else 0.7)
    eager = CoherentSemanticAttention(clamp=clamp)(x, masks).numpy()
    assert np.array_equal(eager[2:], x.numpy()[2:])          # empty and full masks: identity
    spec = [paddle.static.InputSpec([None, 6, None, None], "float32"),
            paddle.static.InputSpec([None, 1, None, None], "float32")]
    traced = paddle.jit.to_static(CoherentSemanticAttention(clamp=clamp), input_spec=spec, full_graph=True)
    tol = 1e-5 * max(1.0, np.abs(eager).max())
    for got in (traced(x, masks), csa_graph(x, masks, clamp)):
        assert np.abs(got.numpy() - eager).max() <= tol
        assert np.array_equal(got.numpy()[2:], x.numpy()[2:])
    # A batch without any hole, and one sample: other sizes through the same traced graph.
    empty = paddle.zeros([2, 1, 12, 12])
    assert np.array_equal(traced(x[:2], empty).numpy(), x.numpy()[:2])
    small = x[1:2, :, :8, :10]
    got = traced(small, masks[1:2, :, :8, :10]).numpy()
    assert np.abs(got - CoherentSemanticAttention(clamp=clamp)(small, masks[1:2, :, :8, :10]).numpy()).max() <= tol


def test_bad_inputs_are_one_clear_error():
    layer = CoherentSemanticAttention()
    with pytest.raises(ValueError, match="feat_mask"):
        layer(paddle.zeros([1, 4, 8, 8]), paddle.zeros([1, 1, 4, 4]))
    with pytest.raises(ValueError, match="mode"):
        CoherentSemanticAttention("fast")
