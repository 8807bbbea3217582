"""The method object every model follows: nets by role, losses, one training step, inference."""
import contextlib
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import paddle
from paddle import nn

from ...utils.pixels import paste_back


class BaseModel:
    """A method (the GAN recipe): owns its ``nets``; the trainer owns optimizers and the loop.

    Subclasses set ``task``, ``value_range`` and ``size_multiple`` and implement
    ``train_step`` and ``forward_infer``. Tensors crossing this class's public boundary are
    float32 NCHW images in [0, 1] and masks in {0, 1} (1 = hole / foreground); each model
    converts to its own ``value_range`` inside, nowhere else.
    """

    task: str = "inpainting"                    # or "harmonization"
    value_range: Tuple[float, float] = (-1.0, 1.0)
    size_multiple: int = 8                      # inputs are padded to this and cropped back
    min_size: int = 0                           # smallest side the nets accept (0: any)
    # Loss terms the progress bar shows, the generator's reconstruction loss first (empty: the first four).
    progress_keys: Tuple[str, ...] = ()
    draw_names: Tuple[str, ...] = ()            # random draws of a step a batch may supply (modeling/draws.py)
    # The nets ``forward_infer`` runs: what a compiled graph depends on (critics are for training only).
    inference_nets: Tuple[str, ...] = ("generator",)

    def __init__(self, nets: Dict[str, nn.Layer]) -> None:
        self.nets: Dict[str, nn.Layer] = nets
        self.optimizers: Dict[str, paddle.optimizer.Optimizer] = {}
        self.scalers: Dict[str, paddle.amp.GradScaler] = {}
        self.amp_dtype: Optional[str] = None
        self.amp_level = "O1"
        self.reduce_gradients: Optional[Callable[[List[paddle.Tensor]], None]] = None
        self._visuals: Dict[str, paddle.Tensor] = {}
        self.last_draws: Dict[str, paddle.Tensor] = {}   # the random draws of the last train_step, by name

    # ---- wiring done by the trainer -------------------------------------------------
    def attach(self, optimizers: Dict[str, paddle.optimizer.Optimizer], amp_dtype: Optional[str] = None,
               amp_level: str = "O1",
               reduce_gradients: Optional[Callable[[List[paddle.Tensor]], None]] = None) -> None:
        """Give the model its optimizers (by name), the AMP settings and, when data-parallel, the function
        that averages gradients over processes (the engine's; None in one process)."""
        self.optimizers = optimizers
        self.amp_dtype = amp_dtype
        self.amp_level = amp_level
        self.reduce_gradients = reduce_gradients
        # float16 needs loss scaling; bfloat16 has float32's exponent range and does not.
        self.scalers = ({name: paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) for name in optimizers}
                        if amp_dtype == "float16" else {})

    # ---- what a method implements ---------------------------------------------------
    def train_step(self, batch: Dict[str, paddle.Tensor], step: int) -> Dict[str, paddle.Tensor]:
        """One training iteration; returns every loss term by name (detached scalars)."""
        raise NotImplementedError

    def forward_infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Nets on inputs already in ``value_range``; returns the composited output in that range."""
        raise NotImplementedError

    # ---- shared behaviour ----------------------------------------------------------
    def to_net(self, x01: paddle.Tensor) -> paddle.Tensor:
        """[0,1] image -> the nets' value range."""
        lo, hi = self.value_range
        return x01 * (hi - lo) + lo

    def from_net(self, x: paddle.Tensor) -> paddle.Tensor:
        """The nets' value range -> [0,1]."""
        lo, hi = self.value_range
        return (x - lo) / (hi - lo)

    def infer_graph(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """The inference computation itself (what export traces): [0,1] in, [0,1] out."""
        out = self.from_net(self.forward_infer(self.to_net(image), mask))
        # Known pixels are the input's, exactly: the nets' round trip through the value range
        # must not perturb them by a float ulp.
        return paddle.clip(paste_back(out, image, mask), 0.0, 1.0)

    @paddle.no_grad()
    def infer(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """Batched inference at the library boundary: [0,1] image and {0,1} mask in, [0,1] out."""
        return self.infer_graph(image, mask)

    def check_batch(self, batch: Dict[str, paddle.Tensor], keys: Sequence[str]) -> None:
        """One KeyError naming the keys a training batch lacks."""
        missing = [k for k in keys if k not in batch]
        if missing:
            raise KeyError(f"{type(self).__name__} training batch lacks {missing}; it has {sorted(batch)}")

    def check_inputs(self, image: paddle.Tensor, mask: paddle.Tensor) -> None:
        """One ValueError for an image and mask that are not [N,3,H,W] and [N,1,H,W] of one N, H, W."""
        # Eager only: in an exported graph N, H and W are symbolic and the check cannot be a Python bool.
        if paddle.in_dynamic_mode() and (
                image.ndim != 4 or image.shape[1] != 3 or mask.ndim != 4 or mask.shape[1] != 1
                or mask.shape[0] != image.shape[0] or mask.shape[2:] != image.shape[2:]):
            raise ValueError(f"{type(self).__name__} needs image [N,3,H,W] and mask [N,1,H,W] of the same N, H, W; "
                             f"got {list(image.shape)} and {list(mask.shape)}")

    def set_requires_grad(self, roles: Iterable[str], requires_grad: bool) -> None:
        """Turn gradients of the nets in ``roles`` on or off (the official ``set_requires_grad``)."""
        for p in self.parameters(roles):
            p.stop_gradient = not requires_grad

    @contextlib.contextmanager
    def frozen(self, roles: Sequence[str]) -> Iterator[None]:
        """The critics in ``roles`` get no gradients inside (a generator update), whatever happens."""
        self.set_requires_grad(roles, False)
        try:
            yield
        finally:
            self.set_requires_grad(roles, True)

    def autocast(self):
        """The mixed-precision context for forward passes (a no-op without AMP)."""
        if not self.amp_dtype:
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(enable=True, level=self.amp_level, dtype=self.amp_dtype)

    def parameters(self, roles: Iterable[str]):
        """Parameters of the nets named in ``roles``."""
        return [p for role in roles for p in self.nets[role].parameters()]

    def optimize(self, loss: paddle.Tensor, name: str) -> None:
        """Backward ``loss`` and step optimizer ``name`` (AMP scaling, data-parallel all-reduce)."""
        opt = self.optimizers[name]
        for net in self.nets.values():
            net.clear_gradients(set_to_zero=False)
        scaler = self.scalers.get(name)
        (scaler.scale(loss) if scaler else loss).backward()
        if self.reduce_gradients is not None:
            self.reduce_gradients(opt._parameter_list)
        if scaler:
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()
        opt.clear_grad(set_to_zero=False)

    def train(self) -> "BaseModel":
        """Put every net in training mode."""
        for net in self.nets.values():
            net.train()
        return self

    def eval(self) -> "BaseModel":
        """Put every net in evaluation mode."""
        for net in self.nets.values():
            net.eval()
        return self

    def state_dict(self) -> Dict[str, dict]:
        """{role: state_dict} of every net."""
        return {role: net.state_dict() for role, net in self.nets.items()}

    def set_state_dict(self, state: Dict[str, dict], strict: bool = True) -> None:
        """Load {role: state_dict}; a role may be missing (e.g. generator-only weights) unless strict."""
        from ...utils.weights import load_net_state

        for role, net in self.nets.items():
            if role in state:
                load_net_state(net, state[role], role)
            elif strict:
                raise KeyError(f"weights have no entry for net {role!r}; they hold {sorted(state)}")

    def visuals(self) -> Dict[str, paddle.Tensor]:
        """Images of the last training step in [0,1], in grid order: input, mask, output, target."""
        return self._visuals
