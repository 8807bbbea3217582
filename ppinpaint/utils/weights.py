"""Loading state dicts into nets with every mismatch reported, not silently skipped."""
from typing import Dict

import numpy as np
import paddle
from paddle import nn


def _as_dtype_of(value: object, param: paddle.Tensor, key: str, role: str) -> object:
    """A float array of another precision (float64, float16 …) cast to the parameter's; other kinds refused."""
    if not isinstance(value, np.ndarray):
        return value
    want = np.dtype(paddle.base.data_feeder.convert_dtype(param.dtype))
    if value.dtype == want:
        return value
    if value.dtype.kind == "f" and want.kind == "f":
        return value.astype(want)
    raise ValueError(f"weights for the {role}: {key} is {value.dtype}, the net expects {want}")


def load_net_state(net: nn.Layer, state: Dict[str, object], role: str = "net",
                   ignore_unexpected: bool = False) -> None:
    """Load ``state`` into ``net``: missing, unexpected (unless ``ignore_unexpected``: a file holding more
    than this net, e.g. a backbone's later layers) and wrongly-shaped keys are one error."""
    own = net.state_dict()
    if ignore_unexpected:
        state = {k: v for k, v in state.items() if k in own}
    state = {k: _as_dtype_of(v, own[k], k, role) if k in own else v for k, v in state.items()}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k}: file {tuple(np.shape(state[k]))} vs net {tuple(own[k].shape)}"
             for k in own if k in state and tuple(np.shape(state[k])) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {missing[:8]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {unexpected[:8]}")
        if wrong:
            parts.append(f"shape mismatch {len(wrong)}: {wrong[:8]}")
        raise ValueError(f"weights do not fit the {role} ({type(net).__name__}); " + "; ".join(parts))
    net.set_state_dict({k: paddle.to_tensor(v) if isinstance(v, np.ndarray) else v for k, v in state.items()})
