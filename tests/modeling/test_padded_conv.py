"""PaddedConv2D.upsampled: the phase form equals upsample + convolution, values and gradients."""
import numpy as np
import paddle
import pytest

from ppinpaint.modeling.layers.padded_conv import PADDINGS, PaddedConv2D
from ppinpaint.modeling.layers.portable import upsample2x_nearest


def _values_and_grads(layer: PaddedConv2D, x: np.ndarray, g: np.ndarray, phase: bool):
    xt = paddle.to_tensor(x)
    xt.stop_gradient = False
    y = layer.upsampled(xt) if phase else layer(upsample2x_nearest(xt))
    (y * paddle.to_tensor(g)).sum().backward()
    out = [y.numpy(), xt.grad.numpy(), layer.conv.weight.grad.numpy(), layer.conv.bias.grad.numpy()]
    layer.clear_gradients()
    return out


@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("activation", ["elu", None])
def test_upsampled_equals_upsample_then_conv(padding, activation):
    paddle.seed(3)
    layer = PaddedConv2D(4, 5, 3, activation=activation, padding=padding)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 10)).astype(np.float32)     # two samples, not square
    g = rng.standard_normal((2, 5, 12, 20)).astype(np.float32)
    want = _values_and_grads(layer, x, g, phase=False)
    got = _values_and_grads(layer, x, g, phase=True)
    for name, a, b in zip(("output", "input grad", "weight grad", "bias grad"), got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max(), err_msg=name)


def test_other_kernels_take_upsample_then_conv():
    layer = PaddedConv2D(3, 2, 5, activation=None)
    x = paddle.to_tensor(np.random.default_rng(1).standard_normal((1, 3, 4, 4)).astype(np.float32))
    np.testing.assert_array_equal(layer.upsampled(x).numpy(), layer(upsample2x_nearest(x)).numpy())
