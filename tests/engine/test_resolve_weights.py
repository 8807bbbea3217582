"""``--weights`` takes a run folder, its checkpoints/ or a checkpoint folder; ``-c`` then comes from the run."""
import shutil

import numpy as np
import pytest
import tiny_gan  # noqa: F401  (registers TinyInpaintGAN, TinyBlobs)

from ppinpaint.commands import predict as predict_command
from ppinpaint.config import Config
from ppinpaint.data.io import read_image, write_image
from ppinpaint.engine.checkpoint import resolve_weights
from ppinpaint.engine.trainer import Trainer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "run"
    cfg = Config.from_dict({
        "model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                  "discriminator": {"type": "TinyCritic"}},
        "train_dataset": {"type": "TinyBlobs", "size": 16, "length": 4},
        "val_dataset": {"type": "TinyBlobs", "size": 16, "length": 2},
        "optimizers": {"generator": {"type": "Adam", "nets": ["generator"], "learning_rate": 1e-3},
                       "discriminator": {"type": "Adam", "nets": ["discriminator"], "learning_rate": 1e-3}},
        "train": {"iters": 4, "batch_size": 2, "visual_interval": 0, "save_interval": 2, "eval_interval": 2,
                  "best_metric": "max:psnr"},
    })
    Trainer(cfg, output_dir=str(out)).train()
    return out


def test_run_folder_and_checkpoints_folder_give_best_with_the_run_config(run):
    for path in (run, run / "checkpoints"):
        weights, config, note = resolve_weights(str(path))
        assert weights == str(run / "checkpoints" / "best")
        assert config == str(run / "config.yml")
        assert "best checkpoint: psnr=" in note and "at iteration" in note


def test_checkpoint_folder_and_file_are_taken_as_they_are(run):
    weights, config, note = resolve_weights(str(run / "checkpoints" / "iter_0000004"))
    assert weights == str(run / "checkpoints" / "iter_0000004") and config == str(run / "config.yml")
    file = run / "checkpoints" / "iter_0000004" / "model.safetensors"
    assert resolve_weights(str(file)) == (str(file), None, str(file))


def test_without_best_the_latest_is_taken_and_said(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "checkpoints" / "best")
    weights, _, note = resolve_weights(str(copy))
    assert weights == str(copy / "checkpoints" / "iter_0000004") and "latest checkpoint" in note


def test_a_folder_without_weights_is_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a weights file, a checkpoint folder"):
        resolve_weights(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="weights not found"):
        resolve_weights(str(tmp_path / "missing.pdparams"))


def test_predict_without_config_uses_the_runs(run, tmp_path, capsys):
    rng = np.random.default_rng(0)
    write_image(str(tmp_path / "x.png"), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    mask = np.zeros((16, 16), np.uint8)
    mask[4:10, 4:10] = 255
    write_image(str(tmp_path / "x_mask.png"), mask)
    args = ["--image", str(tmp_path / "x.png"), "--mask", str(tmp_path / "x_mask.png"), "--output", str(tmp_path / "out")]
    assert predict_command.main(["--weights", str(run)] + args) == 0
    printed = capsys.readouterr().out
    assert f"weights: {run / 'checkpoints' / 'best'} (the run's best checkpoint" in printed
    assert f"config: {run / 'config.yml'} (the run's own)" in printed
    assert read_image(str(tmp_path / "out" / "x.png")).shape == (16, 16, 3)
    bare = str(run / "checkpoints" / "best" / "model.safetensors")
    assert predict_command.main(["--weights", bare] + args) == 2
    assert "give -c CONFIG: --weights" in capsys.readouterr().err
