"""Fixed VGG16 feature extractor (relu1_2 … relu4_3 slices), as the official CSA ``Vgg16``.

Layer indices are ``paddle.vision.models.vgg16().features`` / torchvision ``vgg16().features``
indices 0-22, split in four slices exactly as the official wrapper (each of the first three
slices ends with its max-pool, so "relu3_3" is 256 x H/8 x W/8). No ImageNet normalisation is
applied: the official feeds [-1, 1] images straight in, and we mirror that.
"""
import logging
from typing import Dict, Optional

import paddle
from paddle import nn

from ...registry import NETWORKS
from ...utils.weight_files import read_state_file
from ...utils.weights import load_net_state

logger = logging.getLogger(__name__)

# (slice name, first features index, layer plan); "M" = 2x2 max-pool, int = 3x3 conv + ReLU.
SLICES = (("slice1", 0, (64, 64, "M")), ("slice2", 5, (128, 128, "M")),
          ("slice3", 10, (256, 256, 256, "M")), ("slice4", 17, (512, 512, 512)))
OUTPUTS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")


def _slice(start: int, plan: tuple, in_ch: int) -> nn.Sequential:
    layers = []
    for item in plan:
        if item == "M":
            layers.append((str(start), nn.MaxPool2D(2, 2)))
            start += 1
        else:
            layers.append((str(start), nn.Conv2D(in_ch, item, 3, 1, 1)))
            layers.append((str(start + 1), nn.ReLU()))
            in_ch, start = item, start + 2
    return nn.Sequential(*layers)


@NETWORKS.register()
class VGG16Features(nn.Layer):
    """VGG16 slices; ``weights``: a .safetensors/.pdparams of this layer's keys (``slice1.0.weight`` …), bare or
    under ``vgg16`` as the ``torchvision_vgg16`` converter writes it.

    ``pretrained=True`` takes Paddle's ImageNet VGG16, downloaded at the first forward (training).
    Without weights the features are random, which is logged as a warning: the consistency loss and
    the feature discriminator are then meaningless.
    """

    def __init__(self, weights: Optional[str] = None, pretrained: bool = False) -> None:
        super().__init__()
        in_ch = 3
        for name, start, plan in SLICES:
            setattr(self, name, _slice(start, plan, in_ch))
            in_ch = [p for p in plan if p != "M"][-1]
        if weights:
            state = read_state_file(weights)  # safetensors or a .pdparams through the restricted reader
            # What `convert_weights.py torchvision_vgg16` writes: {'vgg16': state}.
            state = state["vgg16"] if set(state) == {"vgg16"} else state
            try:
                load_net_state(self, state, "VGG16 features", ignore_unexpected=True)
            except ValueError as e:
                raise ValueError(f"{weights}: {e}") from None
        elif not pretrained:
            logger.warning("VGG16Features: no weights and pretrained=false, features are RANDOM "
                           "(consistency loss and feature discriminator will not be meaningful)")
        # Fetched on first use: only training runs the VGG, so predict, eval and export of a config
        # with ``pretrained: true`` never download.
        self._fetch_pretrained = bool(pretrained) and not weights
        for p in self.parameters():
            p.stop_gradient = True
        self.eval()

    def forward(self, x: paddle.Tensor) -> Dict[str, paddle.Tensor]:
        """[N,3,H,W] -> {relu1_2, relu2_2, relu3_3, relu4_3}."""
        if self._fetch_pretrained:
            features = paddle.vision.models.vgg16(pretrained=True).features.state_dict()
            load_net_state(self, from_features(features), "VGG16 features from paddle's vgg16", ignore_unexpected=True)
            self._fetch_pretrained = False
        out = {}
        for (name, _, _), key in zip(SLICES, OUTPUTS):
            x = getattr(self, name)(x)
            out[key] = x
        return out


def from_features(features: Dict[str, object]) -> Dict[str, object]:
    """``{'<i>.weight': …}`` of vgg16 ``features`` (indices 0-22) -> this layer's slice keys."""
    bounds = [(name, start) for name, start, _ in SLICES]
    out = {}
    for key, value in features.items():
        index = int(key.split(".")[0])
        if index > 22:
            continue
        name = [n for n, start in bounds if start <= index][-1]
        out[f"{name}.{key}"] = value
    return out
