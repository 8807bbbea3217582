"""The one check of weights against a net (used by models, VGG16 and the metric networks)."""
import numpy as np
import pytest
from paddle import nn

from ppinpaint.utils.weights import load_net_state


def test_every_mismatch_in_one_error_and_extra_keys_only_when_allowed():
    net = nn.Linear(2, 3)
    good = {"weight": np.ones((2, 3), np.float32), "bias": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match=r"unexpected 1: \['later.weight'\]"):
        load_net_state(net, {**good, "later.weight": np.zeros(1, np.float32)}, "head")
    load_net_state(net, {**good, "later.weight": np.zeros(1, np.float32)}, "head", ignore_unexpected=True)
    np.testing.assert_array_equal(net.weight.numpy(), good["weight"])
    with pytest.raises(ValueError, match=r"the head \(Linear\); missing 1: \['bias'\]; shape mismatch 1"):
        load_net_state(net, {"weight": np.ones((3, 2), np.float32)}, "head", ignore_unexpected=True)
