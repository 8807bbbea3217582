"""RAIN: official parity, region statistics, empty / full foreground, batch independence."""
import numpy as np
import paddle
import pytest

from rainnet_data import case, official_state
from ppinpaint.modeling.layers.rain import RAIN

PREFIX = "netG.model_layer11norm."


def official_rain():
    layer = RAIN(32)
    layer.set_state_dict({k[len(PREFIX):]: v for k, v in official_state().items() if k.startswith(PREFIX)})
    return layer


def test_matches_official_layer():
    z = case("a")
    out = official_rain()(paddle.to_tensor(z["out/rain11_in"]), paddle.to_tensor(z["in/mask"]))
    assert np.abs(out.numpy() - z["out/rain11_out"]).max() <= 1e-4


def test_regions_take_the_background_statistics():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (1, 4, 8, 8)).astype("float32")
    mask = np.zeros((1, 1, 8, 8), "float32")
    mask[..., 2:6, 1:5] = 1
    x[:, :, 2:6, 1:5] = x[:, :, 2:6, 1:5] * 0.1 + 7.0     # a foreground of another "style"
    out = RAIN(4)(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    fg, bg = out[:, :, 2:6, 1:5].reshape(4, -1), out[0][:, mask[0, 0] == 0]
    np.testing.assert_allclose(bg.mean(1), 0.0, atol=1e-5)   # background: standardised
    np.testing.assert_allclose(bg.std(1), 1.0, atol=1e-3)
    # Foreground: re-styled with the background's raw mean and std (official; not standardised).
    raw_bg = x[0][:, mask[0, 0] == 0]
    np.testing.assert_allclose(fg.mean(1), raw_bg.mean(1), atol=1e-4)
    np.testing.assert_allclose(fg.std(1), raw_bg.std(1), rtol=1e-3)


def test_empty_and_full_foreground_are_defined():
    x = paddle.to_tensor(np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype("float32"))
    layer = RAIN(3)
    empty = layer(x, paddle.zeros([2, 1, 8, 8]))
    expected = (x - x.mean(axis=[2, 3], keepdim=True)) / paddle.sqrt(x.var(axis=[2, 3], keepdim=True, unbiased=False) + 1e-5)
    np.testing.assert_allclose(empty.numpy(), expected.numpy(), atol=1e-4)   # plain instance norm
    x.stop_gradient = False
    full = layer(x, paddle.ones([2, 1, 8, 8]))
    # No background: its statistics are mean 0, std sqrt(eps) (official), so the foreground
    # keeps its standardised shape scaled by sqrt(eps); finite values and gradients.
    np.testing.assert_allclose(full.numpy(), expected.numpy() * np.sqrt(1e-5), atol=1e-6)
    full.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_batch_of_two_equals_two_single_runs():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 5, 16, 16)).astype("float32")
    mask = (rng.random((2, 1, 32, 32)) > 0.6).astype("float32")   # different masks, twice the size
    layer = RAIN(5)
    for p in layer.parameters():
        p.set_value(paddle.to_tensor(rng.normal(size=p.shape).astype("float32")))
    both = layer(paddle.to_tensor(x), paddle.to_tensor(mask)).numpy()
    for i in range(2):
        one = layer(paddle.to_tensor(x[i:i + 1]), paddle.to_tensor(mask[i:i + 1])).numpy()
        np.testing.assert_allclose(both[i:i + 1], one, atol=1e-5)


def test_bad_mask_is_one_clear_error():
    with pytest.raises(ValueError, match="RAIN needs"):
        RAIN(3)(paddle.zeros([1, 3, 8, 8]), paddle.zeros([1, 3, 8, 8]))
