"""The S²AM block: parity with the official RASC, the mask rounding rule, empty/full masks."""
import json
import os

import numpy as np
import paddle
import pytest

import recipe
from s2am_data import DATA, official_state
from ppinpaint.convert.s2am import block_state
from ppinpaint.modeling.layers.s2am import S2AM, ChannelGate, MaskFreeS2AM, gaussian_kernel, mask_to_feature

BLOCK = "model.model.sub.model.sub.model.sub.model.attention."   # S2ASC's RASC(64) at 32x32


@pytest.fixture(scope="module")
def block():
    layer = S2AM(64)
    weights = block_state(recipe.net_state(official_state(), "s2asc"), BLOCK)
    assert sorted(weights) == sorted(layer.state_dict())
    layer.set_state_dict({k: paddle.to_tensor(v) for k, v in weights.items()})
    return layer.eval()


def test_block_matches_official(block):
    z = np.load(os.path.join(DATA, "case_a.npz"))
    out = block(paddle.to_tensor(z["out/s2asc_rasc32_in"]), paddle.to_tensor(z["in/input"][:, 3:4]))
    assert np.abs(out.numpy() - z["out/s2asc_rasc32_out"]).max() <= 1e-4


def test_gaussian_kernel_is_the_official_buffer():
    meta = json.load(open(os.path.join(DATA, "meta.json")))["buffer_keep_values"]
    for values in meta.values():
        np.testing.assert_allclose(gaussian_kernel().ravel(), np.float32(values), atol=1e-7)
    # exp(-((x - mu) / (2 sigma))^2): the centre-to-edge ratio is e^-1 per axis, not e^-2.
    k = gaussian_kernel()[0, 0]
    assert np.isclose(k[2, 0] / k[2, 2], np.exp(-1.0), rtol=1e-6)


def test_mask_rounding_half_goes_to_zero():
    # 8x8 mask -> 2x2 feature: stride 4, each output reads the top-left 2x2 of its 4x4 cell.
    mask = np.zeros((1, 1, 8, 8), np.float32)
    mask[0, 0, 0, 0:2] = 1.0                   # cell (0,0): 2 of 4 -> 0.5 -> 0 (half to even)
    mask[0, 0, 0:2, 4:6] = [[1, 1], [1, 0]]    # cell (0,1): 0.75 -> 1
    mask[0, 0, 6:8, 0:4] = 1.0                 # cell (1,0): outside the read window -> 0
    mask[0, 0, 4:6, 4:6] = 1.0                 # cell (1,1): 1 -> 1
    out = mask_to_feature(paddle.to_tensor(mask), 2, 2).numpy()[0, 0]
    np.testing.assert_array_equal(out, [[0, 1], [0, 1]])
    soft = np.full((1, 1, 4, 4), 0.5, np.float32)
    soft[0, 0, 2:, 2:] = 0.5001
    np.testing.assert_array_equal(mask_to_feature(paddle.to_tensor(soft), 2, 2).numpy()[0, 0], [[0, 0], [0, 1]])


def test_mask_other_sizes():
    soft = paddle.to_tensor(np.float32([[[[0.3, 0.7], [1.0, 0.0]]]]))
    np.testing.assert_array_equal(mask_to_feature(soft, 2, 2).numpy(), soft.numpy())   # same size: as given
    up = mask_to_feature(soft, 4, 4).numpy()[0, 0]                                     # nearest, then > 0.5
    np.testing.assert_array_equal(up[:2, 2:], 1.0)
    np.testing.assert_array_equal(up[:2, :2], 0.0)
    assert mask_to_feature(paddle.ones([1, 1, 9, 9]), 3, 3).shape == [1, 1, 3, 3]


def test_empty_and_full_masks(block):
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((1, 64, 8, 8)).astype(np.float32))
    empty = block(x, paddle.zeros([1, 1, 64, 64]))
    full = block(x, paddle.ones([1, 1, 64, 64]))
    # blur(0) = 0 and blur(1) = 1: only the background gate, or only the spliced branch.
    np.testing.assert_allclose(empty.numpy(), block.background_gate(x).numpy(), atol=1e-6)
    spliced = block.learn(block.spliced_gate(x)) + block.mixed_gate(x)
    np.testing.assert_allclose(full.numpy(), spliced.numpy(), atol=1e-6)


def test_batch_equals_single_samples(block):
    rng = np.random.default_rng(1)
    x = paddle.to_tensor(rng.standard_normal((2, 64, 16, 16)).astype(np.float32))
    mask = paddle.to_tensor((rng.random((2, 1, 64, 64)) > 0.5).astype(np.float32))
    both = block(x, mask).numpy()
    for i in range(2):
        np.testing.assert_allclose(both[i:i + 1], block(x[i:i + 1], mask[i:i + 1]).numpy(), atol=1e-6)


def test_bad_inputs_are_one_clear_error(block):
    with pytest.raises(ValueError, match="expects"):
        block(paddle.zeros([1, 32, 8, 8]), paddle.zeros([1, 1, 8, 8]))
    with pytest.raises(ValueError, match="at least 3x3"):
        block(paddle.zeros([1, 64, 2, 2]), paddle.zeros([1, 1, 2, 2]))
    with pytest.raises(ValueError, match="mask must be"):
        block(paddle.zeros([2, 64, 8, 8]), paddle.zeros([1, 1, 8, 8]))
    with pytest.raises(ValueError, match="reduction"):
        ChannelGate(8)


def test_mask_free_block_predicts_a_mask():
    layer = MaskFreeS2AM(32).eval()
    out, predicted = layer(paddle.randn([2, 32, 16, 16]))
    assert out.shape == [2, 32, 16, 16] and predicted.shape == [2, 1, 16, 16]
    assert float(predicted.min()) > 0.0 and float(predicted.max()) < 1.0


def test_mask_at_a_given_stride():
    # The network's known stride gives the rule the sizes would pick, and a mismatch is one clear error.
    mask = paddle.to_tensor((np.random.default_rng(2).random((2, 1, 16, 24)) > 0.5).astype(np.float32))
    np.testing.assert_array_equal(mask_to_feature(mask, 4, 6, stride=4).numpy(), mask_to_feature(mask, 4, 6).numpy())
    np.testing.assert_array_equal(mask_to_feature(mask, 16, 24, stride=1).numpy(), mask.numpy())
    with pytest.raises(ValueError, match="not 2 times"):
        mask_to_feature(mask, 4, 6, stride=2)
    with pytest.raises(ValueError, match="int >= 1"):
        mask_to_feature(mask, 4, 6, stride=0)


def test_block_with_stride_equals_block_by_sizes(block):
    rng = np.random.default_rng(3)
    x = paddle.to_tensor(rng.standard_normal((2, 64, 8, 12)).astype(np.float32))
    mask = paddle.to_tensor((rng.random((2, 1, 64, 96)) > 0.5).astype(np.float32))
    np.testing.assert_array_equal(block(x, mask, stride=8).numpy(), block(x, mask).numpy())
    with pytest.raises(ValueError, match="not 4 times"):
        block(x, mask, stride=4)
