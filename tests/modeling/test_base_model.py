"""The helpers every method uses from BaseModel: batch and input checks, critic freezing, paste-back."""
import numpy as np
import paddle
import pytest
from paddle import nn

from ppinpaint.modeling.models.base import BaseModel


def test_frozen_turns_critic_gradients_off_and_back_on_even_after_an_error():
    model = BaseModel({"generator": nn.Linear(2, 2), "discriminator": nn.Linear(2, 1)})
    with pytest.raises(RuntimeError):
        with model.frozen(["discriminator"]):
            assert all(p.stop_gradient for p in model.parameters(["discriminator"]))
            assert not any(p.stop_gradient for p in model.parameters(["generator"]))
            raise RuntimeError("a failing generator update")
    assert not any(p.stop_gradient for p in model.parameters(["discriminator", "generator"]))


def test_batch_and_input_checks_name_what_is_wrong():
    model = BaseModel({})
    model.check_batch({"image": 0, "mask": 0, "target": 0}, ("image", "mask", "target"))
    with pytest.raises(KeyError, match=r"BaseModel training batch lacks \['target'\]; it has \['image', 'mask'\]"):
        model.check_batch({"image": 0, "mask": 0}, ("image", "mask", "target"))
    model.check_inputs(paddle.zeros([2, 3, 8, 8]), paddle.zeros([2, 1, 8, 8]))
    with pytest.raises(ValueError, match=r"BaseModel needs image \[N,3,H,W\] and mask \[N,1,H,W\].*\[1, 1, 4, 4\]"):
        model.check_inputs(paddle.zeros([1, 3, 8, 8]), paddle.zeros([1, 1, 4, 4]))


def test_infer_graph_returns_the_known_pixels_exactly():
    class Noisy(BaseModel):
        def forward_infer(self, image, mask):
            return image + 0.3  # a net that changes every pixel, hole or not

    rng = np.random.default_rng(0)
    image = paddle.to_tensor(rng.random((2, 3, 8, 8), dtype=np.float32))
    mask = paddle.to_tensor((rng.random((2, 1, 8, 8)) > 0.5).astype(np.float32))
    out = Noisy({}).infer(image, mask).numpy()
    known = np.broadcast_to(mask.numpy() == 0, out.shape)
    np.testing.assert_array_equal(out[known], image.numpy()[known])
    assert (out[~known] > image.numpy()[~known]).all()
