"""The one rounding to 8 bits and the one paste-back."""
import numpy as np
import paddle

from ppinpaint.utils.pixels import paste_back, quantize, round_half_up, to_uint8


def test_halves_round_up_where_numpy_rounds_to_even():
    x = np.array([0.5, 1.5, 2.5, -0.5, 2.4999], np.float64)
    np.testing.assert_array_equal(round_half_up(x), [1.0, 2.0, 3.0, 0.0, 2.0])
    assert not np.array_equal(np.round(x), round_half_up(x))


def test_quantize_clips_and_to_uint8_keeps_every_level():
    levels = np.arange(256, dtype=np.float32)
    np.testing.assert_array_equal(to_uint8(levels / 255.0), levels.astype(np.uint8))
    np.testing.assert_array_equal(quantize(np.array([-0.2, 1.7, 0.5 / 255.0])), [0.0, 255.0, 1.0])
    assert to_uint8(np.zeros(1, np.float32)).dtype == np.uint8


def test_paste_back_is_one_formula_for_arrays_and_tensors():
    rng = np.random.default_rng(0)
    result, known = rng.random((2, 3, 4, 4), dtype=np.float32), rng.random((2, 3, 4, 4), dtype=np.float32)
    mask = np.where(rng.random((2, 1, 4, 4)) > 0.5, 1.0, rng.random((2, 1, 4, 4))).astype(np.float32)
    on_arrays = paste_back(result, known, mask)
    on_tensors = paste_back(*map(paddle.to_tensor, (result, known, mask))).numpy()
    np.testing.assert_array_equal(on_arrays, on_tensors)
    hard = mask == 1.0
    np.testing.assert_array_equal(on_arrays[np.broadcast_to(hard, result.shape)],
                                  result[np.broadcast_to(hard, result.shape)])
