"""What a run tells its user: train.log header, progress terms, save/best lines, the saved config."""
import os
import re

import pytest
import tiny_gan  # noqa: F401  (registers TinyInpaintGAN, TinyBlobs)
import yaml

from ppinpaint.config import Config
from ppinpaint.engine.logger import format_duration, format_number
from ppinpaint.engine.trainer import Trainer
from ppinpaint.modeling.models.deepfill_v1 import DeepFillV1
from ppinpaint.modeling.models.rainnet import RainNet
from ppinpaint.modeling.models.s2am import S2AM


def run_config(tmp_path, **train):
    return Config.from_dict({
        "model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                  "discriminator": {"type": "TinyCritic"}, "disc_steps": 2},
        "train_dataset": {"type": "TinyBlobs", "size": 16, "length": 4},
        "val_dataset": {"type": "TinyBlobs", "size": 16, "length": 2},
        "optimizers": {"generator": {"type": "Adam", "nets": ["generator"], "learning_rate": 1e-3},
                       "discriminator": {"type": "Adam", "nets": ["discriminator"], "learning_rate": 1e-3}},
        "train": {"iters": 4, "batch_size": 2, "log_interval": 1, "visual_interval": 0, "save_interval": 2,
                  "eval_interval": 2, "best_metric": "max:psnr", "output_dir": "output/somewhere_else", **train},
    })


def test_log_has_header_progress_terms_first_and_save_lines(tmp_path):
    out = tmp_path / "run"
    trainer = Trainer(run_config(tmp_path), output_dir=str(out))
    trainer.model.progress_keys = ("l1", "g")
    trainer.train()
    log = (out / "train.log").read_text()
    assert "ppinpaint 0.1.0, Paddle " in log and "device cpu, 1 process(es)" in log and "CPU threads: " in log
    assert f"run folder {out}" in log
    assert re.search(r"parameters: generator [\d,]+, discriminator [\d,]+", log)
    assert log.index("ppinpaint 0.1.0") < log.index("iter 1/4")
    assert log.count("checkpoint saved: ") == 2
    assert str(out / "checkpoints" / "iter_0000004") in log
    assert "new best psnr=" in log and str(out / "checkpoints" / "best") in log
    # The generator's terms lead the line; iteration 2 is a critic-only step of disc_steps 2.
    assert re.search(r"iter 1/4 l1=\S+ g=\S+ d=\S+ gp=\S+ lr_generator=\S+ lr_discriminator=\S+ it/s=\S+ eta \d", log)
    assert re.search(r"iter 2/4 d=\S+ gp=\S+ lr_", log)
    assert re.search(r"iter 4/4 .* eta 0s", log)


def test_saved_config_names_the_real_run_folder(tmp_path):
    out = tmp_path / "elsewhere"
    Trainer(run_config(tmp_path), output_dir=str(out))
    saved = yaml.safe_load((out / "config.yml").read_text())
    assert saved["train"]["output_dir"] == str(out)
    assert saved["train"]["iters"] == 4


def test_each_model_shows_its_reconstruction_loss_first():
    assert DeepFillV1.progress_keys[0] == "l1"
    assert RainNet.progress_keys[0] == "G_L1"
    assert S2AM.progress_keys[0] == "mse" and "total" not in S2AM.progress_keys  # unscaled, not 1e10 x MSE


@pytest.mark.parametrize("value, text", [
    (0.0123456, "0.01235"), (1.50674, "1.507"), (84.04, "84.04"), (-65.3, "-65.30"), (12345.6, "12346"),
    (2.258e9, "2.258e+09"), (3.1e-6, "3.100e-06"), (0.0, "0"), (float("nan"), "nan"),
])
def test_format_number(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize("seconds, text", [(0.2, "0s"), (42, "42s"), (185, "3m05s"), (3720, "1h02m")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_header_names_overrides(tmp_path):
    cfg_file = tmp_path / "c.yml"
    cfg_file.write_text(yaml.safe_dump(run_config(tmp_path).data))
    trainer = Trainer(Config(str(cfg_file), ["train.iters=2"]), output_dir=str(tmp_path / "r"))
    trainer.logger.close()
    assert f"config {cfg_file} -o train.iters=2" in (tmp_path / "r" / "train.log").read_text()
    assert os.path.isfile(tmp_path / "r" / "config.yml")
