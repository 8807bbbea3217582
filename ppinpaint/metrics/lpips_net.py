"""The LPIPS network (Zhang et al., CVPR 2018), as the ``lpips`` package's ``LPIPS(version='0.1')``.

An ImageNet backbone (torchvision's AlexNet or VGG16 ``features``) is tapped after five ReLUs;
each tap is unit-normalised over channels (``x / (|x| + 1e-10)``), the squared difference of the
two images' taps is weighted per channel by a learned 1x1 conv without bias (``lin0``–``lin4``,
calibrated on human judgements), averaged over space and summed over taps. Inputs in [0, 1] are
mapped to [-1, 1] (``normalize=True``) and through the package's ``ScalingLayer`` constants.
Attribute names are torchvision's ``features.<i>`` and lpips' ``lin<k>``, so conversion only
drops the Dropout index (``lin0.model.1.weight`` -> ``lin0.weight``).
"""
from typing import Dict, List, Tuple

import paddle
from paddle import nn

# Backbone plans over torchvision ``features`` indices: (out channels, kernel, stride, padding)
# for a conv (a ReLU follows it), "M3" / "M2" for max-pools 3x3/s2 and 2x2/s2.
_ALEX = ((64, 11, 4, 2), "M3", (192, 5, 1, 2), "M3", (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1))
_VGG16 = ((64, 3, 1, 1), (64, 3, 1, 1), "M2", (128, 3, 1, 1), (128, 3, 1, 1), "M2",
          (256, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1), "M2", (512, 3, 1, 1), (512, 3, 1, 1), (512, 3, 1, 1),
          "M2", (512, 3, 1, 1), (512, 3, 1, 1), (512, 3, 1, 1))
# The features indices whose outputs lpips reads (the ends of its slice1..slice5).
BACKBONES = {"alex": (_ALEX, (1, 4, 7, 9, 11)), "vgg": (_VGG16, (3, 8, 15, 22, 29))}

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def _features(plan: tuple) -> Tuple[nn.Sequential, Dict[int, int]]:
    """The ``features`` Sequential and, per ReLU index, its channel count."""
    layers, relu_channels, in_ch = [], {}, 3
    for item in plan:
        if item in ("M3", "M2"):
            layers.append(nn.MaxPool2D(int(item[1]), 2))
        else:
            out_ch, k, s, p = item
            layers += [nn.Conv2D(in_ch, out_ch, k, s, p), nn.ReLU()]
            relu_channels[len(layers) - 1] = in_ch = out_ch
    return nn.Sequential(*layers), relu_channels


def backbone_of(state: Dict[str, object]) -> str:
    """``alex`` or ``vgg`` from the width of ``lin1`` (192 vs 128 channels) in a state dict."""
    width = {192: "alex", 128: "vgg"}
    lin1 = state.get("lin1.weight")
    if lin1 is None or len(lin1.shape) != 4 or int(lin1.shape[1]) not in width:
        raise ValueError("not LPIPS weights of an AlexNet or VGG16 backbone (no lin1.weight with 192 or 128 "
                         "input channels)")
    return width[int(lin1.shape[1])]


class LPIPSNet(nn.Layer):
    """``(a, b)`` [N,3,H,W] in [0,1] -> [N] LPIPS distances (eval mode, no gradients)."""

    def __init__(self, net: str = "alex") -> None:
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"LPIPS backbone must be one of {sorted(BACKBONES)}, got {net!r}")
        self.net = net
        plan, self.taps = BACKBONES[net]
        self.features, relu_channels = _features(plan)
        for k, tap in enumerate(self.taps):
            setattr(self, f"lin{k}", nn.Conv2D(relu_channels[tap], 1, 1, bias_attr=False))
        # Constants of lpips' ScalingLayer, not weights: kept out of the state dict.
        self.register_buffer("shift", paddle.to_tensor(SHIFT, dtype="float32").reshape([1, 3, 1, 1]), persistable=False)
        self.register_buffer("scale", paddle.to_tensor(SCALE, dtype="float32").reshape([1, 3, 1, 1]), persistable=False)
        for p in self.parameters():
            p.stop_gradient = True
        self.eval()

    def _taps(self, x: paddle.Tensor) -> List[paddle.Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.taps:
                out.append(x / (paddle.sqrt((x * x).sum(axis=1, keepdim=True)) + 1e-10))
        return out

    def forward(self, a: paddle.Tensor, b: paddle.Tensor) -> paddle.Tensor:
        """Distances of each pair; 0 for identical images."""
        n = a.shape[0]
        both = (paddle.concat([a, b], axis=0) * 2.0 - 1.0 - self.shift) / self.scale
        total = 0.0
        for k, tap in enumerate(self._taps(both)):
            diff = (tap[:n] - tap[n:]) ** 2
            total = total + getattr(self, f"lin{k}")(diff).mean(axis=[1, 2, 3])
        return total
