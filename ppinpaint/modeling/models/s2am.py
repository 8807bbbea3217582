"""S²AM harmonization (Cun & Pun, TIP 2020): one U-Net generator trained with a scaled MSE.

Training follows the official ``BasicMachine.train`` (vinthony/s2am): loss = 1e10 · MSE(output,
target) on the raw (unclamped, uncomposited) output, Adam lr 1e-3, BatchNorm in train mode.
The mask-free variant adds the supervision of each predicted mask.
"""
from typing import Callable, Dict, Optional

import paddle
import paddle.nn.functional as F
from paddle import nn

from ...registry import MODELS
from ...utils.pixels import paste_back
from .base import BaseModel


def mask_targets(mask: paddle.Tensor, predicted: list) -> list:
    """The true mask at each predicted mask's size (area average: the covered fraction)."""
    return [F.adaptive_avg_pool2d(mask, p.shape[2:]) for p in predicted]


@MODELS.register()
class S2AM(BaseModel):
    """S²AM (S2AD / S2ASC / plain U-Net / mask-free) as a trainable method.

    ``loss_scale``: the official 1e10 factor on the MSE. Its only effect under Adam is to make
    Adam's epsilon negligible (Adam is otherwise invariant to a constant loss scale). The
    scaled loss is always formed in float32. Under float16 AMP the scaled gradients would
    overflow half precision (they reach ~1e9 here), so the model then backpropagates the
    unscaled MSE and divides each optimizer's epsilon by ``loss_scale`` instead: the same
    Adam update, exactly, without the overflow.
    ``mask_loss_weight``: weight of each level's mask MSE relative to the image MSE for the
    mask-free generator (the official mask-free script uses 90 per mask vs 100 for the image).
    """

    task = "harmonization"
    progress_keys = ("mse", "mask_mse")
    value_range = (0.0, 1.0)
    size_multiple = 256
    min_size = 256

    def __init__(self, generator: nn.Layer, loss_scale: float = 1e10, mask_loss_weight: float = 0.9) -> None:
        super().__init__({"generator": generator})
        if isinstance(loss_scale, bool) or not isinstance(loss_scale, (int, float)) or loss_scale <= 0:
            raise ValueError(f"loss_scale must be a positive number, got {loss_scale!r} "
                             f"(YAML reads 1.0e10 as text: write 1.0e+10)")
        self.loss_scale = float(loss_scale)
        self.mask_loss_weight = float(mask_loss_weight)
        self.backward_scale = self.loss_scale

    def attach(self, optimizers: Dict[str, paddle.optimizer.Optimizer], amp_dtype: Optional[str] = None,
               amp_level: str = "O1", reduce_gradients: Optional[Callable] = None) -> None:
        """As the base; under float16 the loss scale moves from the gradients into Adam's epsilon."""
        super().attach(optimizers, amp_dtype, amp_level, reduce_gradients)
        self.backward_scale = self.loss_scale
        if amp_dtype == "float16" and self.loss_scale != 1.0:
            for name, opt in optimizers.items():
                if not hasattr(opt, "_epsilon"):
                    raise ValueError(f"optimizer {name!r} ({type(opt).__name__}) has no epsilon to fold "
                                     f"loss_scale into; use loss_scale: 1 with float16")
                # Adam(c·g) with eps == Adam(g) with eps / c: the update is unchanged.
                opt._epsilon = opt._epsilon / self.loss_scale
            self.backward_scale = 1.0

    def _net_input(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """The official 4-channel input; mismatched shapes are one clear error."""
        self.check_inputs(image, mask)
        return paddle.concat([image, mask.astype(image.dtype)], axis=1)

    def train_step(self, batch: Dict[str, paddle.Tensor], step: int) -> Dict[str, paddle.Tensor]:
        """One Adam step on loss_scale · (MSE + mask terms); returns the terms (detached)."""
        self.check_batch(batch, ("image", "mask", "target"))
        image, mask, target = batch["image"], batch["mask"], batch["target"]
        net = self.nets["generator"]
        mask_free = getattr(net, "mask_free", False)
        with self.autocast():
            if mask_free:
                output, predicted = net(self._net_input(image, mask), return_masks=True)
            else:
                output, predicted = net(self._net_input(image, mask)), []
        # float32 from here: 1e10 · MSE fits float32, not float16.
        mse = F.mse_loss(output.astype("float32"), target.astype("float32"))
        loss = mse
        losses = {"mse": mse}
        if predicted:
            terms = [F.mse_loss(p.astype("float32"), t)
                     for p, t in zip(predicted, mask_targets(mask.astype("float32"), predicted))]
            mask_mse = paddle.add_n(terms)
            loss = loss + self.mask_loss_weight * mask_mse
            losses["mask_mse"] = mask_mse
        self.optimize(loss * self.backward_scale, "generator")
        losses["total"] = loss * self.loss_scale
        self._visuals = {"input": image, "mask": mask, "output": paddle.clip(output.astype("float32"), 0.0, 1.0),
                         "target": target}
        return {k: v.detach() for k, v in losses.items()}

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Composite in [0,1] + mask -> harmonized foreground pasted on the original background."""
        with self.autocast():
            output = self.nets["generator"](self._net_input(image, mask))
        output = output.astype(image.dtype)
        return paste_back(output, image, mask)
