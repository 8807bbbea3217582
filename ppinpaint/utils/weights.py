"""Loading state dicts into nets with every mismatch reported, not silently skipped."""
from typing import Dict

import numpy as np
import paddle
from paddle import nn


def load_net_state(net: nn.Layer, state: Dict[str, object], role: str = "net") -> None:
    """Load ``state`` into ``net``: missing, unexpected and wrongly-shaped keys are one error."""
    own = net.state_dict()
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
