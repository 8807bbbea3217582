import numpy as np
import pytest

from ppinpaint.data.io import InputError, load_pair, read_image, read_mask, to_mask, to_rgb_uint8, write_image


def test_rgba_is_composited_over_white_with_a_warning():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[0, 0, 3] = 255  # opaque red-ish pixel, others transparent
    with pytest.warns(UserWarning, match="alpha"):
        rgb = to_rgb_uint8(rgba)
    assert rgb.shape == (2, 2, 3) and tuple(rgb[0, 0]) == (200, 0, 0) and tuple(rgb[1, 1]) == (255, 255, 255)


def test_gray_16bit_and_float_inputs():
    gray = np.full((3, 4), 7, np.uint8)
    assert to_rgb_uint8(gray).shape == (3, 4, 3)
    assert to_rgb_uint8(np.full((2, 2, 3), 65535, np.uint16)).max() == 255
    assert to_rgb_uint8(np.full((2, 2, 3), 0.5, np.float32))[0, 0, 0] == 128
    with pytest.raises(InputError, match="expected"):
        to_rgb_uint8(np.zeros((2, 2, 5), np.uint8))


def test_masks_any_channels_threshold_and_soft():
    m = np.array([[0, 127], [128, 255]], np.uint8)
    np.testing.assert_array_equal(to_mask(m), [[0, 0], [1, 1]])
    np.testing.assert_array_equal(to_mask(np.repeat(m[:, :, None], 3, 2)), [[0, 0], [1, 1]])
    np.testing.assert_allclose(to_mask(m, soft=True), m / 255.0)
    np.testing.assert_array_equal(to_mask(np.array([[0.5, 0.4999]], np.float32)), [[1, 0]])


def test_files_mismatch_and_corrupt(tmp_path):
    write_image(str(tmp_path / "a.png"), np.zeros((10, 12, 3), np.uint8))
    write_image(str(tmp_path / "m.png"), np.zeros((10, 11, 3), np.uint8))
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    assert read_image(str(tmp_path / "a.png")).shape == (10, 12, 3)
    assert read_mask(str(tmp_path / "m.png")).shape == (10, 11)
    with pytest.raises(InputError, match=r"a\.png is 12x10 but .*m\.png is 11x10"):
        load_pair(str(tmp_path / "a.png"), str(tmp_path / "m.png"))
    with pytest.raises(InputError, match=r"bad\.png.*corrupt"):
        read_image(str(tmp_path / "bad.png"))
    with pytest.raises(InputError, match="not found"):
        read_image(str(tmp_path / "nope.png"))


def test_real_sample_files_load():
    import os
    import warnings
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "samples", "harmonization")
    if not os.path.isdir(root):
        pytest.skip("shared samples not beside the checkout")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some samples are RGBA
        img, mask = load_pair(os.path.join(root, "1.png"), os.path.join(root, "1-mask.png"))
    assert img.shape[2] == 3 and img.dtype == np.uint8 and set(np.unique(mask)) <= {0.0, 1.0}
