import os

import numpy as np
import paddle
import pytest
import tiny_gan  # noqa: F401  (registers TinyInpaintGAN, TinyBlobs)

from ppinpaint.config import Config
from ppinpaint.engine import checkpoint as ckpt_mod
from ppinpaint.engine.checkpoint import CheckpointManager, load_checkpoint
from ppinpaint.engine.trainer import Trainer, TrainingDiverged, parse_best_metric


def tiny_config(iters=6, **train):
    base = {
        "model": {"type": "TinyInpaintGAN", "generator": {"type": "TinyGenerator"},
                  "discriminator": {"type": "TinyCritic"}, "disc_steps": 2},
        "train_dataset": {"type": "TinyBlobs", "size": 16, "length": 5},
        "optimizers": {
            "generator": {"type": "Adam", "nets": ["generator"], "learning_rate": 1e-3, "beta1": 0.5,
                          "lr_scheduler": {"type": "LinearDecay", "start_iter": 2, "end_iter": 10}},
            "discriminator": {"type": "Adam", "nets": ["discriminator"], "learning_rate": 1e-3,
                              "grad_clip": 1.0},
        },
        "train": {"iters": iters, "batch_size": 2, "seed": 7, "log_interval": 1, "visual_interval": 2,
                  "save_interval": 2, "keep_last": 2, **train},
    }
    return Config.from_dict(base)


def losses_by_step(path):
    from visualdl import LogReader

    out = {}
    for name in sorted(os.listdir(path)):
        reader = LogReader(file_path=os.path.join(path, name))
        for rec in reader.get_data("scalar", "train/d"):
            out[rec.id] = rec.value
    return out


def test_short_run_writes_checkpoints_logs_and_grids(tmp_path):
    trainer = Trainer(tiny_config(), output_dir=str(tmp_path))
    before = {k: v.numpy().copy() for k, v in trainer.model.nets["generator"].state_dict().items()}
    trainer.train()
    after = trainer.model.nets["generator"].state_dict()
    assert any(not np.allclose(before[k], after[k].numpy()) for k in before)
    names = sorted(n for n in os.listdir(tmp_path / "checkpoints") if n.startswith("iter_"))
    assert names == ["iter_0000004", "iter_0000006"]  # keep_last 2
    assert (tmp_path / "checkpoints" / "latest").read_text() == "iter_0000006"
    assert (tmp_path / "config.yml").exists() and (tmp_path / "train.log").exists()
    pngs = sorted(os.listdir(tmp_path / "images"))
    assert pngs == ["train_iter_0000002.png", "train_iter_0000004.png", "train_iter_0000006.png"]
    from visualdl import LogReader

    (vdl_file,) = os.listdir(tmp_path / "vdl")
    reader = LogReader(file_path=str(tmp_path / "vdl" / vdl_file))
    tags = reader.get_tags()
    assert {"train/d", "train/gp", "train/l1", "lr/generator", "speed/iters_per_sec"} <= set(tags["scalar"])
    assert [r.id for r in reader.get_data("scalar", "train/d")] == [1, 2, 3, 4, 5, 6]
    assert tags["image"]
    lrs = [r.value for r in reader.get_data("scalar", "lr/generator")]
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] < 1e-3  # linear decay after iteration 2


def test_resume_continues_the_same_run(tmp_path):
    full = Trainer(tiny_config(iters=6), output_dir=str(tmp_path / "full"))
    full.train()
    part = Trainer(tiny_config(iters=4), output_dir=str(tmp_path / "part"))
    part.train()
    resumed = Trainer(tiny_config(iters=6), resume=str(tmp_path / "part"))
    assert resumed.output_dir == str(tmp_path / "part") and resumed.start_step == 4
    resumed.train()
    ref, got = losses_by_step(tmp_path / "full" / "vdl"), losses_by_step(tmp_path / "part" / "vdl")
    assert sorted(got) == [1, 2, 3, 4, 5, 6]  # one curve, continued at the true global step
    for step in (5, 6):
        assert got[step] == pytest.approx(ref[step], rel=1e-5, abs=1e-6)
    for k, v in full.model.nets["generator"].state_dict().items():
        np.testing.assert_allclose(resumed.model.nets["generator"].state_dict()[k].numpy(), v.numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    cfg = tiny_config(iters=6)
    cfg.data["model"]["nan_at_step"] = 4
    trainer = Trainer(cfg, output_dir=str(tmp_path))
    with pytest.raises(TrainingDiverged, match=r"l1.*iteration 5.*iter_0000004"):
        trainer.train()
    assert (tmp_path / "checkpoints" / "latest").read_text() == "iter_0000004"
    state = load_checkpoint(str(tmp_path))
    assert all(np.isfinite(v.numpy()).all() for v in state["model"]["generator"].values())


def trainer_state(step):
    """A complete trainer state as Trainer._trainer_state writes it."""
    import random

    return {"step": step, "best_value": None, "world_size": 1, "seed": 0, "paddle_rng": paddle.get_rng_state(),
            "numpy_rng": np.random.get_state(), "python_rng": random.getstate(), "schedulers": {}, "scalers": {}}


def test_interrupted_save_leaves_previous_checkpoint(tmp_path, monkeypatch):
    manager = CheckpointManager(str(tmp_path), keep_last=3)
    good = {"generator": {"w": paddle.ones([2])}}
    manager.save(1, good, {}, trainer_state(1))
    real_save = ckpt_mod.save_tensors
    calls = []

    def dying_save(path, tensors, *args, **kwargs):
        calls.append(path)
        if len(calls) == 1:  # the model file is written, the process dies on the next file
            with open(path, "wb") as f:
                f.write(b"\x08partial")
            raise KeyboardInterrupt("killed during save")
        return real_save(path, tensors, *args, **kwargs)

    monkeypatch.setattr(ckpt_mod, "save_tensors", dying_save)
    with pytest.raises(KeyboardInterrupt):
        manager.save(2, {"generator": {"w": paddle.zeros([2])}}, {}, trainer_state(2))
    monkeypatch.setattr(ckpt_mod, "save_tensors", real_save)
    assert manager.latest().endswith("iter_0000001")
    state = load_checkpoint(str(tmp_path))
    np.testing.assert_array_equal(state["model"]["generator"]["w"].numpy(), [1, 1])
    manager.save(3, good, {}, trainer_state(3))  # the next save clears the half-written folder
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_resume_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        load_checkpoint(str(tmp_path))


def test_best_metric_modes():
    assert parse_best_metric("psnr") == ("psnr", "max")
    assert parse_best_metric("HCOCO/fmse") == ("HCOCO/fmse", "min")
    assert parse_best_metric("min:ssim") == ("ssim", "min")
    assert parse_best_metric(None) == (None, None)


def test_amp_request_on_cpu_trains_in_float32_and_says_so(tmp_path):
    from ppinpaint.engine.trainer import resolve_amp

    assert resolve_amp(False) is None and resolve_amp(True) is None  # CPU build
    with pytest.raises(Exception, match="train.amp"):
        resolve_amp("int8")
    trainer = Trainer(tiny_config(iters=2, amp=True), output_dir=str(tmp_path))
    trainer.train()
    assert "AMP only on GPU" in (tmp_path / "train.log").read_text()
    # The float16 path (loss scaler per optimizer) runs here too; Paddle makes it a no-op on CPU.
    trainer.model.attach(trainer.optimizers, amp_dtype="float16")
    assert set(trainer.model.scalers) == {"generator", "discriminator"}
    batch = {k: paddle.to_tensor(np.stack([trainer.train_dataset[i][k] for i in range(2)]))
             for k in ("image", "mask", "target")}
    losses = trainer.model.train_step(batch, 0)
    assert all(np.isfinite(float(v)) for v in losses.values())
