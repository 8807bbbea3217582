import numpy as np
import paddle
import pytest

from ppinpaint.engine.logger import make_grid
from ppinpaint.utils.grid import GAP, HEADER, header_height, show_hole, titled_grid


def test_titled_grid_layout_titles_and_resize():
    a = np.full((8, 12, 3), 10, np.uint8)
    b = np.full((4, 6, 3), 200, np.uint8)  # another size: resized to the first tile's
    grid = titled_grid([[a, a], [b, b]], ["input", "output"])
    assert grid.shape == (HEADER + 2 * (8 + GAP), 2 * 12 + GAP, 3)
    assert (grid[HEADER + GAP:HEADER + GAP + 8, :12] == 10).all()
    assert (grid[HEADER + GAP:HEADER + GAP + 8, 12 + GAP:] == 200).all()
    band = grid[:HEADER]
    assert band.min() < 128 and (band == 255).mean() > 0.5  # dark text on white, not a filled band
    with pytest.raises(ValueError, match="2 columns but 1 titles"):
        titled_grid([[a], [b]], ["input"])


def test_show_hole_is_white_in_both_ranges():
    mask = np.zeros((4, 4, 1), np.float32)
    mask[1:3, 1:3] = 1
    img8 = np.full((4, 4, 3), 7, np.uint8)
    out8 = show_hole(img8, mask)
    assert out8.dtype == np.uint8 and (out8[1:3, 1:3] == 255).all() and (out8[0] == 7).all()
    imgf = np.full((1, 3, 4, 4), 0.2, np.float32)
    outf = show_hole(imgf, mask.transpose(2, 0, 1)[None])
    assert outf.dtype == np.float32 and (outf[..., 1:3, 1:3] == 1.0).all() and outf[0, 0, 0, 0] == np.float32(0.2)


def test_training_grid_draws_the_hole_white_only_for_inpainting():
    image = paddle.full([2, 3, 16, 16], 0.25)
    mask = paddle.zeros([2, 1, 16, 16])
    mask[:, :, 4:8, 4:8] = 1.0
    visuals = {"input": image, "mask": mask, "output": image, "target": image}
    inpaint, harmonize = make_grid(visuals, hole=True), make_grid(visuals, hole=False)
    assert inpaint.shape == (HEADER + 2 * (16 + GAP), 4 * 16 + 3 * GAP, 3)
    top = HEADER + GAP
    assert (inpaint[top + 4:top + 8, 4:8] == 255).all()
    assert (harmonize[top + 4:top + 8, 4:8] == 64).all()


def test_wide_tiles_get_a_taller_title_band():
    wide = np.zeros((10, 640, 3), np.uint8)
    grid = titled_grid([[wide]], ["composite"])
    assert header_height(640) == 2 * HEADER and grid.shape[0] == 2 * HEADER + GAP + 10
    assert (grid[:2 * HEADER] < 128).any()
