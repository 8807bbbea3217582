"""Weight initialisation as each official code does it, one entry point (``init_net``) for every net.

Schemes (weights of convolutions, transposed convolutions and linear layers; a spectrally
normalised conv's ``weight_orig``; BatchNorm scale/shift):

- ``normal``: pix2pix's ``init_weights(net, 'normal', 0.02)`` (CSA ``models/networks.py``,
  RainNet ``models/networks.py``): weights N(0, 0.02), biases 0, BatchNorm scale N(1, 0.02), shift 0;
- ``kaiming_normal``: S²AM's ``weights_init_kaiming`` (``scripts/utils/model_init.py``): weights
  N(0, 2/fan_in) (a = 0, fan_in mode), BatchNorm as above; biases keep torch's default
  U(±1/sqrt(fan_in)) because that function never touches them;
- ``glorot_uniform``: TF v1 DeepFill (``tf.layers.conv2d`` / ``tf.layers.dense`` without an
  initializer fall back to ``glorot_uniform``): U(±sqrt(6/(fan_in+fan_out))), biases 0;
- ``torch_default``: daa233's port calls no init function, so torch's layer defaults stand:
  ``kaiming_uniform_(a=sqrt(5))`` = U(±1/sqrt(fan_in)) for weights, biases U(±1/sqrt(fan_in));
- ``paddle``: Paddle's layer defaults, untouched (conv weights N(0, 2/fan_in), biases 0).

Fans follow torch's ``_calculate_fan_in_and_fan_out`` (dim 1 × kernel area is fan-in, also for
a transposed conv's [in, out, k, k] weight, as torch computes it); TF's conv kernels give the
same numbers. Paddle stores Linear weights [in, out]. Every draw comes from Paddle's global
generator, so ``paddle.seed`` fixes the whole net.
"""
import math
from typing import Mapping, Optional, Tuple

import paddle
from paddle import nn

SCHEMES = ("normal", "kaiming_normal", "glorot_uniform", "torch_default", "paddle")
# DeepFill v1's two official codes, selectable like its other conventions (padding, channel order).
DEEPFILL_CONVENTIONS = {"tf": "glorot_uniform", "daa233": "torch_default"}
Normal, Uniform, Constant = nn.initializer.Normal, nn.initializer.Uniform, nn.initializer.Constant


def fans(weight: paddle.Tensor, linear: bool = False) -> Tuple[int, int]:
    """(fan_in, fan_out) of a Paddle conv weight [a, b, *k] (torch's rule) or a Linear weight [in, out]."""
    if linear:
        return int(weight.shape[0]), int(weight.shape[1])
    area = math.prod(int(k) for k in weight.shape[2:])
    return int(weight.shape[1]) * area, int(weight.shape[0]) * area


def weighted_layers(net: nn.Layer):
    """(layer, weight, is_linear) for every conv / linear / spectral-norm conv in ``net``."""
    for layer in net.sublayers(include_self=True):
        weight = getattr(layer, "weight_orig", None)
        if weight is None and isinstance(layer, (nn.layer.conv._ConvNd, nn.Linear)):
            weight = layer.weight
        if weight is not None and not weight.stop_gradient:
            yield layer, weight, isinstance(layer, nn.Linear)


def initialize(net: nn.Layer, scheme: str, std: float = 0.02) -> nn.Layer:
    """Re-draw ``net``'s parameters by ``scheme`` (one of ``SCHEMES``); returns ``net``."""
    if scheme not in SCHEMES:
        raise ValueError(f"init scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme == "paddle":
        return net
    for layer, weight, linear in weighted_layers(net):
        fan_in, fan_out = fans(weight, linear)
        bias = getattr(layer, "bias", None)
        if scheme == "normal":
            Normal(0.0, std)(weight)
        elif scheme == "kaiming_normal":
            Normal(0.0, math.sqrt(2.0 / fan_in))(weight)
        elif scheme == "glorot_uniform":
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            Uniform(-limit, limit)(weight)
        else:
            bound = 1.0 / math.sqrt(fan_in)
            Uniform(-bound, bound)(weight)
        if bias is not None:
            if scheme in ("kaiming_normal", "torch_default"):
                bound = 1.0 / math.sqrt(fan_in)
                Uniform(-bound, bound)(bias)
            else:
                Constant(0.0)(bias)
    if scheme in ("normal", "kaiming_normal"):
        for layer in net.sublayers(include_self=True):
            if isinstance(layer, nn.layer.norm._BatchNormBase) and layer.weight is not None:
                Normal(1.0, std)(layer.weight)
                Constant(0.0)(layer.bias)
    return net


def init_net(net: nn.Layer, init: str, official: str, conventions: Optional[Mapping[str, str]] = None) -> nn.Layer:
    """Initialise ``net`` by its ``init`` key: ``official`` (its official code's scheme),
    ``paddle`` (Paddle's defaults) or one of the net's named ``conventions`` (e.g. DeepFill's tf/daa233)."""
    choices = {"official": official, "paddle": "paddle", **(conventions or {})}
    if init not in choices:
        raise ValueError(f"{type(net).__name__}: init must be one of {sorted(choices)}, got {init!r}")
    return initialize(net, choices[init])
