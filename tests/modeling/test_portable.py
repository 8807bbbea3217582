"""The oneDNN-safe ops: Paddle's own ops eagerly; when traced for export, other ops with the same values."""
import numpy as np
import paddle
from paddle import nn

from ppinpaint.modeling.layers.portable import LeakyReLU, leaky_relu, resize_nearest, upsample2x_nearest


class _Net(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.act = LeakyReLU(0.2)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y = resize_nearest(self.act(x), [x.shape[2] * 2 + 1, x.shape[3] + 3])
        return upsample2x_nearest(leaky_relu(y, 0.1))


def test_traced_graph_has_no_leaky_relu_nearest_interp_or_stack_and_the_same_values():
    net = _Net()
    x = paddle.to_tensor(np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32))
    eager = net(x).numpy()
    expected = paddle.nn.functional.leaky_relu(
        paddle.nn.functional.interpolate(paddle.nn.functional.leaky_relu(x, 0.2), size=[11, 9], mode="nearest"), 0.1)
    np.testing.assert_array_equal(eager, expected.numpy().repeat(2, axis=2).repeat(2, axis=3))
    static = paddle.jit.to_static(net, input_spec=[paddle.static.InputSpec([None, 3, None, None], "float32")],
                                  full_graph=True)
    np.testing.assert_array_equal(static(x).numpy(), eager)
    ops = {op.name() for op in static.forward.concrete_program.main_program.global_block().ops}
    assert {"pd_op.maximum", "pd_op.index_select", "pd_op.depthwise_conv2d_transpose"} <= ops, sorted(ops)
    assert not {"pd_op.leaky_relu", "pd_op.nearest_interp", "pd_op.stack"} & ops, sorted(ops)
