import numpy as np
import pytest

from ppinpaint.data.masks import CenterMask, FreeFormMask, IrregularFileMask, RandomBoxMask
from ppinpaint.data.io import write_image


def rng(seed=0):
    return np.random.default_rng(seed)


def test_random_box_stays_inside_its_bbox_and_margins():
    gen = RandomBoxMask(shape=(128, 128), max_delta=(32, 32), margin=(10, 20))
    for seed in range(20):
        mask, (t, l, h, w) = gen(256, 256, rng(seed))
        assert (h, w) == (128, 128) and 10 <= t <= 256 - 10 - 128 and 20 <= l <= 256 - 20 - 128
        rows, cols = np.nonzero(mask)
        assert rows.min() >= t and rows.max() < t + h and cols.min() >= l and cols.max() < l + w
        # the shrink is at most max_delta // 2 per side
        assert rows.min() - t <= 16 and cols.min() - l <= 16 and mask.sum() >= 96 * 96
    a, b = gen(256, 256, rng(3)), gen(256, 256, rng(3))
    np.testing.assert_array_equal(a[0], b[0])


def test_random_box_places_like_the_official_random_bbox():
    # TF v1 tf.random_uniform(minval=margin, maxval=H - margin - h) and daa233's np.random.randint:
    # the upper end is exclusive. 20 px image, 16 px box, margin 1: top in {1, 2}.
    gen = RandomBoxMask(shape=(16, 16), max_delta=(0, 0), margin=(1, 1))
    tops = {gen(20, 20, rng(seed))[1][0] for seed in range(200)}
    assert tops == {1, 2}
    assert RandomBoxMask((16, 16), (0, 0))(16, 16, rng())[1][:2] == (0, 0)   # a box as large as the image fits


def test_center_mask_official_csa_hole():
    mask, bbox = CenterMask()(256, 256, rng())
    assert bbox == (68, 68, 120, 120)
    assert mask[68:188, 68:188].all() and mask.sum() == 120 * 120
    mask, bbox = CenterMask(size=64)(128, 128, rng())
    assert bbox == (32, 32, 64, 64)


def test_free_form_strokes_are_seeded_binary_and_nonempty():
    gen = FreeFormMask()
    m1, bbox = gen(256, 256, rng(5))
    m2, _ = gen(256, 256, rng(5))
    np.testing.assert_array_equal(m1, m2)
    assert set(np.unique(m1)) <= {0.0, 1.0} and 0 < m1.mean() < 0.9
    t, l, h, w = bbox
    assert m1[t:t + h, l:l + w].sum() == m1.sum()


def test_irregular_files_detect_an_inverted_set(tmp_path):
    for i in range(4):
        m = np.zeros((32, 32, 3), np.uint8)
        m[8:16, 8:16] = 255  # white = hole, 6 % of the image
        write_image(str(tmp_path / "ok" / f"{i}.png"), m)
        write_image(str(tmp_path / "inv" / f"{i}.png"), 255 - m)
    gen = IrregularFileMask(str(tmp_path / "ok"))
    mask, bbox = gen(64, 64, rng())
    assert mask.mean() == pytest.approx(0.0625) and bbox == (16, 16, 16, 16)
    with pytest.warns(UserWarning, match="look inverted"):
        inv = IrregularFileMask(str(tmp_path / "inv"))
    assert inv(64, 64, rng())[0].mean() == pytest.approx(0.0625)
    black = IrregularFileMask(str(tmp_path / "inv"), hole_value="black", invert=False)
    assert black(32, 32, rng())[0].mean() == pytest.approx(0.0625)
    with pytest.raises(FileNotFoundError):
        IrregularFileMask(str(tmp_path / "none"))
