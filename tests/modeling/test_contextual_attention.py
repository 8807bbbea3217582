"""Contextual attention: per-sample masks, chunking, conventions, degenerate masks, flow image."""
import numpy as np
import paddle
import pytest

from ppinpaint.modeling.layers.contextual_attention import (ContextualAttention, attention_offsets,
                                                            extract_patches, flow_image, nearest_indices,
                                                            unfold_patches)
from ppinpaint.modeling.layers.padded_conv import PaddedConv2D, tf_same_pads


def _inputs(n=2, c=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    f = paddle.to_tensor(rng.standard_normal((n, c, size, size)).astype(np.float32))
    masks = np.zeros((n, 1, 4 * size, 4 * size), np.float32)
    for i in range(n):
        t, l = rng.integers(0, 2 * size, 2)
        masks[i, :, t:t + size + 8 * i, l:l + size] = 1.0
    return f, paddle.to_tensor(masks)


@pytest.mark.parametrize("patch_norm,resize", [("tf", "tf"), ("daa233", "torch")])
def test_each_sample_uses_its_own_mask(patch_norm, resize):
    f, mask = _inputs()
    layer = ContextualAttention(patch_norm=patch_norm, resize=resize)
    batched, _ = layer(f, f, mask)
    for i in range(2):
        single, _ = layer(f[i:i + 1], f[i:i + 1], mask[i:i + 1])
        np.testing.assert_allclose(batched.numpy()[i:i + 1], single.numpy(), atol=1e-5)
    # The official m = m[0] would give sample 1 sample 0's mask: that is not what we compute.
    first_only, _ = layer(f, f, paddle.concat([mask[:1], mask[:1]]))
    assert np.abs(first_only.numpy()[1] - batched.numpy()[1]).max() > 1e-3


@pytest.mark.parametrize("fuse_k", [3, 5])
def test_chunked_rows_equal_one_chunk(fuse_k):
    f, mask = _inputs(size=24)
    whole = ContextualAttention(fuse_k=fuse_k)
    assert whole._chunk_rows(2, (12, 12)) == 12
    y_whole, flow_whole = whole(f, f, mask, return_flow=True)
    for mib in (0.05, 0.2):    # one row per chunk, then a few (halo rows wrap around the image)
        chunked = ContextualAttention(fuse_k=fuse_k, chunk_mib=mib)
        assert chunked._chunk_rows(2, (12, 12)) < 12
        y, flow = chunked(f, f, mask, return_flow=True)
        np.testing.assert_allclose(y.numpy(), y_whole.numpy(), atol=1e-5)
        np.testing.assert_array_equal(flow.numpy(), flow_whole.numpy())


def test_gradients_flow_through_chunks():
    # 256 MiB: the whole-matrix form; 0.2: the chunked form, one chunk; 0.05: two rows per chunk
    f, mask = _inputs(size=16)
    assert ContextualAttention()._fits_whole(2, (8, 8)) and not ContextualAttention(chunk_mib=0.2)._fits_whole(2, (8, 8))
    grads = []
    for mib in (256.0, 0.2, 0.05):
        x = f.clone()
        x.stop_gradient = False
        y, _ = ContextualAttention(chunk_mib=mib)(x, x, mask)
        (y * y).sum().backward()
        grads.append(x.grad.numpy())
    for other in grads[1:]:
        np.testing.assert_allclose(grads[0], other, rtol=1e-4, atol=1e-5)


def test_empty_full_and_missing_masks_are_finite():
    f, _ = _inputs(n=1)
    layer = ContextualAttention()
    empty = paddle.zeros([1, 1, 64, 64])
    y_empty, _ = layer(f, f, empty)
    y_none, _ = layer(f, f, None)
    np.testing.assert_allclose(y_empty.numpy(), y_none.numpy(), atol=1e-6)
    # Every patch in the hole: nothing to copy from, the official weights are all zero.
    y_full, _ = layer(f, f, paddle.ones([1, 1, 64, 64]))
    assert np.isfinite(y_full.numpy()).all() and np.abs(y_full.numpy()).max() == 0.0


def test_patch_norm_conventions_differ():
    f, mask = _inputs(n=1)
    f = f * 0.02       # small features: daa233's + 1e-4 per element then matters
    a, _ = ContextualAttention(patch_norm="tf")(f, f, mask)
    b, _ = ContextualAttention(patch_norm="daa233")(f, f, mask)
    assert np.abs(a.numpy() - b.numpy()).max() > 1e-3


def test_nearest_index_rules():
    # TF aligned corners, 64 -> 32: 2i up to i = 15, then 2i + 1 (round(i * 63/31)).
    tf = nearest_indices(64, 32, "tf").numpy()
    assert list(tf[:16]) == list(range(0, 32, 2)) and list(tf[16:]) == list(range(33, 64, 2))
    assert list(nearest_indices(64, 32, "torch").numpy()) == list(range(0, 64, 2))
    assert list(nearest_indices(8, 1, "tf").numpy()) == [0]


def test_nearest_indices_are_float32_arithmetic():
    """TF rounds i * float32((in-1)/(out-1)): 53/26 * 13 is 26.5 exactly but 26.499998 in float32 -> 26."""
    for n_in, n_out in ((54, 27), (216, 54), (64, 32), (100, 7), (8, 1)):
        i = np.arange(n_out, dtype=np.float32)
        tf = np.floor(i * (np.float32(n_in - 1) / np.float32(max(n_out - 1, 1))) + np.float32(0.5))
        torch = np.floor(i * (np.float32(n_in) / np.float32(n_out)))
        np.testing.assert_array_equal(nearest_indices(n_in, n_out, "tf").numpy(), np.minimum(tf, n_in - 1))
        np.testing.assert_array_equal(nearest_indices(n_in, n_out, "torch").numpy(), np.minimum(torch, n_in - 1))
    assert nearest_indices(54, 27, "tf").numpy()[13] == 26


@pytest.mark.parametrize("ksize,stride", [(3, 1), (4, 2), (8, 4)])
def test_unfold_patches_equal_extract_patches(ksize, stride):
    f, _ = _inputs(n=2, c=3, size=8)
    want = extract_patches(f, ksize, stride).numpy()
    np.testing.assert_array_equal(unfold_patches(f, ksize, stride).reshape([2, 3 * ksize * ksize, -1]).numpy(), want)
    # the patches of the transposed image in column-major order, taps in the original order
    got = unfold_patches(f.transpose([0, 1, 3, 2]), ksize, stride, transposed=True).transpose([0, 1, 3, 2])
    np.testing.assert_array_equal(got.reshape([2, 3 * ksize * ksize, -1]).numpy(), want)


@pytest.mark.parametrize("options", [{}, {"patch_norm": "daa233", "resize": "torch"}, {"fuse_k": 5},
                                     {"fuse": False}, {"rate": 4}])
def test_exported_form_equals_the_eager_one(options):
    """``_forward_whole`` (what an export traces, and eager when it fits ``chunk_mib``: the score matrix at
    once, column-major after the fuse) against the chunked form."""
    layer = ContextualAttention(**options)
    f, mask = _inputs(n=2, c=4, size=16)
    f2 = paddle.to_tensor(np.random.default_rng(5).standard_normal((1, 4, 16, 24)).astype(np.float32))
    mask2 = paddle.zeros([1, 1, 64, 96])
    mask2[:, :, 8:40, 30:80] = 1.0
    for x, m in ((f, mask), (f2, mask2), (f2, None)):
        np.testing.assert_allclose(layer._forward_whole(x, x, m).numpy(),
                                   layer._forward_chunked(x, x, m, return_flow=False)[0].numpy(), atol=2e-5)


def test_bad_shapes_and_options_are_clear():
    with pytest.raises(ValueError, match="patch_norm"):
        ContextualAttention(patch_norm="l2")
    with pytest.raises(ValueError, match="rate"):
        ContextualAttention(rate=3)
    with pytest.raises(ValueError, match="multiple of the attention rate"):
        ContextualAttention()(paddle.zeros([1, 2, 7, 8]))


def test_flow_image_conventions():
    offsets = np.zeros((2, 2, 3, 3), np.int64)
    offsets[0, 0, 1, 1] = 2       # sample 0: radius 2; sample 1: radius 1
    offsets[1, 1, 0, 0] = -1
    per_sample = flow_image(offsets, "sample")
    running = flow_image(offsets, "running")
    np.testing.assert_array_equal(per_sample[0], running[0])
    # Official: sample 1 is normalised by the largest radius so far (2), so its colour is paler.
    assert not np.array_equal(per_sample[1], running[1])
    assert per_sample.dtype == np.float32 and per_sample.min() >= 0 and per_sample.max() <= 1
    idx = np.array([[[0, 5], [3, 3]]])           # 2x2 grid: index -> (row, col) - own position
    np.testing.assert_array_equal(attention_offsets(idx)[0, :, 0, 1], [2, 0])


@pytest.mark.parametrize("size,ksize,stride,rate,want", [(16, 3, 2, 1, (0, 1)), (15, 3, 2, 1, (1, 1)),
                                                         (16, 5, 2, 1, (1, 2)), (16, 3, 1, 4, (4, 4)),
                                                         (-1, 3, 2, 1, (0, 1))])
def test_tf_same_pads(size, ksize, stride, rate, want):
    assert tf_same_pads(size, ksize, stride, rate) == want


def test_symmetric_padding_is_tf_symmetric():
    conv = PaddedConv2D(1, 1, 5, padding="symmetric", activation=None)
    conv.conv.weight.set_value(paddle.zeros([1, 1, 5, 5]))
    w = np.zeros((1, 1, 5, 5), np.float32)
    w[0, 0, 0, 0] = 1.0       # picks the pixel two up and two left of each output
    conv.conv.weight.set_value(paddle.to_tensor(w))
    conv.conv.bias.set_value(paddle.zeros([1]))
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    y = conv(paddle.to_tensor(x)).numpy()
    padded = np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)], mode="symmetric")
    np.testing.assert_array_equal(y, padded[:, :, :6, :6])


def test_traced_form_has_no_pad_and_equals_eager():
    """The traced attention holds no ``pad`` op: paddle2onnx 2.1.0 writes its fill value from uninitialised
    memory (some exports' borders got 3e-45 or -1.6e32 instead of 0)."""
    class Net(paddle.nn.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.attention = ContextualAttention()

        def forward(self, x: paddle.Tensor, m: paddle.Tensor) -> paddle.Tensor:
            return self.attention(x, x, m)[0]

    net = Net()
    f, mask = _inputs(n=2, c=4, size=16)
    spec = [paddle.static.InputSpec([None, 4, None, None], "float32"),
            paddle.static.InputSpec([None, 1, None, None], "float32")]
    static = paddle.jit.to_static(net, input_spec=spec, full_graph=True)
    np.testing.assert_allclose(static(f, mask).numpy(), net.attention._forward_whole(f, f, mask).numpy(), atol=1e-6)
    ops = {op.name() for op in static.forward.concrete_program.main_program.global_block().ops}
    assert "pd_op.conv2d" in ops and not {"pd_op.pad", "pd_op.pad3d"} & ops, sorted(ops)
