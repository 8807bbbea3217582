"""Ops whose exported graph runs under Paddle Inference with oneDNN on CPU; the nets call these.

Eagerly each one is Paddle's own op, so training, eager inference and every parity test compute
exactly what they did. While ``paddle.jit.to_static`` traces a net for export (PIR programs), they
are written with other ops that give the same values, because Paddle 3.3.1 Inference with oneDNN
(i) segfaults in its PIR conv + leaky_relu fuse pass (``ppinpaint.inference`` deletes that pass for a
graph that still holds leaky_relu, which also loses the other activation fusions) and (ii) cannot run ``nearest_interp`` ("ConvertPirAttribute2RuntimeAttribute
not support ArrayAttribute<DoubleAttribute>", its ``scale`` attribute). The legacy program format
(``FLAGS_enable_pir_api=0``) cannot trace the replacements and runs on the old executor, which has
neither failure, so it keeps Paddle's ops.
"""
import paddle
import paddle.nn.functional as F
from paddle import nn


def tracing_for_export() -> bool:
    """True while a PIR static graph is being traced (what ``tools/export.py`` saves)."""
    return not paddle.in_dynamic_mode() and bool(paddle.get_flags("FLAGS_enable_pir_api")["FLAGS_enable_pir_api"])


def leaky_relu(x: paddle.Tensor, negative_slope: float = 0.01) -> paddle.Tensor:
    """Leaky ReLU; traced as ``maximum(x, a*x)``, equal bit for bit when 0 <= a <= 1."""
    if tracing_for_export() and 0.0 <= negative_slope <= 1.0:
        # x >= 0: x >= a*x; x < 0: a*x > x.
        return paddle.maximum(x, x * negative_slope)
    return F.leaky_relu(x, negative_slope)


class LeakyReLU(nn.Layer):
    """``nn.LeakyReLU`` through :func:`leaky_relu` (no parameters: state dicts are unchanged)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """Leaky ReLU of ``x``."""
        return leaky_relu(x, self.negative_slope)


def _nearest_index(n_in, n_out) -> paddle.Tensor:
    # Paddle's CPU kernel (align_corners False): src = int(float(in / out) * dst), in float32.
    ratio = paddle.cast(n_in, "float32") / paddle.cast(n_out, "float32")
    dst = paddle.arange(n_out).astype("float32")
    return paddle.floor(dst * ratio).astype("int64")


def resize_nearest(x: paddle.Tensor, size) -> paddle.Tensor:
    """Nearest resize of NCHW ``x`` to ``size`` = (H, W), torch's and Paddle's rule (floor of i * in/out,
    ``align_corners=False``); traced as two index gathers."""
    if not tracing_for_export():
        return F.interpolate(x, size=size, mode="nearest", align_corners=False)
    shape = paddle.shape(x)
    for axis, n_out in ((2, size[0]), (3, size[1])):
        n_out = paddle.full([], n_out, "int64") if isinstance(n_out, int) else n_out.astype("int64").reshape([])
        x = paddle.index_select(x, _nearest_index(shape[axis], n_out), axis=axis)
    return x


def upsample2x_nearest(x: paddle.Tensor) -> paddle.Tensor:
    """Nearest x2 upsampling (each pixel repeated twice; TF's aligned and torch's rules agree). Not Paddle's
    interpolate: oneDNN inference cannot run one whose scale is an attribute, and onnxruntime rejects the
    Tile that ``repeat_interleave`` becomes. Eagerly stack + reshape; traced, a depthwise 2x2 stride-2
    transposed convolution with unit kernels (each output pixel is its source times 1, bit for bit), because
    OpenVINO runs the stack + reshape as unblocked reference Concats and reorders: a fifth of DeepFill v1's
    compiled forward at 256^2."""
    if tracing_for_export():
        c = x.shape[1]
        return F.conv2d_transpose(x, paddle.ones([c, 1, 2, 2], x.dtype), stride=2, groups=c)
    x = paddle.stack([x, x], axis=4).reshape([0, 0, 0, -1])
    width = x.shape[3] if paddle.in_dynamic_mode() else paddle.shape(x)[3]
    return paddle.stack([x, x], axis=3).reshape([0, 0, -1, width])
