"""Checkpoints are never lost: lineage-aware pruning, a crash-safe best, one run per folder."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "engine"))
import tiny_gan  # noqa: E402,F401

from ppinpaint.engine import checkpoint as ckpt_mod  # noqa: E402
from ppinpaint.engine.checkpoint import CheckpointManager, RunFolderError, load_checkpoint  # noqa: E402
from ppinpaint.engine.trainer import Trainer  # noqa: E402
from test_trainer import tiny_config, trainer_state  # noqa: E402


def iters(folder):
    return sorted(n for n in os.listdir(folder / "checkpoints") if n.startswith("iter_"))


def test_resuming_an_older_checkpoint_prunes_none_of_the_original_run(tmp_path):
    Trainer(tiny_config(iters=6), output_dir=str(tmp_path)).train()  # keep_last 2: iter_4, iter_6
    assert iters(tmp_path) == ["iter_0000004", "iter_0000006"]
    branch = Trainer(tiny_config(iters=6), resume=str(tmp_path / "checkpoints" / "iter_0000004"))
    branch.train()
    names = iters(tmp_path)
    # The original iter_4 and iter_6 survive; the branch's iter_6 got its own name.
    assert "iter_0000004" in names and "iter_0000006" in names and len(names) == 3
    latest = (tmp_path / "checkpoints" / "latest").read_text()
    assert latest.startswith("iter_0000006_") and load_checkpoint(str(tmp_path))["path"].endswith(latest)


def test_resuming_the_latest_continues_its_lineage(tmp_path):
    Trainer(tiny_config(iters=4), output_dir=str(tmp_path)).train()
    Trainer(tiny_config(iters=8), resume=str(tmp_path)).train()
    assert iters(tmp_path) == ["iter_0000006", "iter_0000008"]  # one lineage: keep_last applies across both


def test_new_run_into_an_existing_run_folder_is_refused_unless_overwrite(tmp_path):
    Trainer(tiny_config(iters=2), output_dir=str(tmp_path)).train()
    with pytest.raises(RunFolderError, match=rf"{tmp_path}.*already holds a run.*--resume.*--overwrite"):
        Trainer(tiny_config(iters=2), output_dir=str(tmp_path))
    assert iters(tmp_path) == ["iter_0000002"]
    Trainer(tiny_config(iters=4), output_dir=str(tmp_path), overwrite=True).train()
    assert iters(tmp_path) == ["iter_0000002", "iter_0000004"]


def test_a_second_run_in_a_locked_folder_is_refused_with_the_pid(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / ".lock").write_text(str(other.pid))
        with pytest.raises(RunFolderError, match=rf"in use by another run \(process {other.pid}"):
            Trainer(tiny_config(iters=2), output_dir=str(tmp_path))
    finally:
        other.kill()
        other.wait()
    # The process is gone: its lock is stale and the next run takes it over, then releases it.
    Trainer(tiny_config(iters=2), output_dir=str(tmp_path)).train()
    assert not (tmp_path / ".lock").exists()


def test_best_survives_a_crash_at_any_point_of_its_update(tmp_path, monkeypatch):
    manager = CheckpointManager(str(tmp_path), keep_last=2)
    model = {"generator": {"w": ckpt_mod.paddle.ones([2])}}
    manager.save_best(2, "psnr", 20.0, model, {}, trainer_state(2))
    assert load_checkpoint(str(tmp_path / "best"))["trainer"]["step"] == 2

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    # Killed before the link switch: the old best is still complete and still named by best.
    monkeypatch.setattr(ckpt_mod.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        manager.save_best(4, "psnr", 21.0, model, {}, trainer_state(4))
    monkeypatch.undo()
    assert load_checkpoint(str(tmp_path / "best"))["trainer"]["step"] == 2
    # Killed after the switch, before the old folder is removed: the new best is complete.
    real_rmtree = ckpt_mod.shutil.rmtree

    def crash_on_old_best(path, *args, **kwargs):
        if os.path.basename(path).startswith("best_"):
            raise KeyboardInterrupt("killed")
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(ckpt_mod.shutil, "rmtree", crash_on_old_best)
    with pytest.raises(KeyboardInterrupt):
        manager.save_best(6, "psnr", 22.0, model, {}, trainer_state(6))
    monkeypatch.undo()
    assert load_checkpoint(str(tmp_path / "best"))["trainer"]["step"] == 6
    manager.save_best(8, "psnr", 23.0, model, {}, trainer_state(8))
    assert load_checkpoint(str(tmp_path / "best"))["trainer"]["step"] == 8


def test_latest_never_names_an_incomplete_checkpoint(tmp_path):
    manager = CheckpointManager(str(tmp_path / "checkpoints"), keep_last=2)
    model = {"generator": {"w": ckpt_mod.paddle.ones([2])}}
    path = manager.save(2, model, {}, trainer_state(2))
    os.remove(os.path.join(path, "trainer.json"))
    assert manager.latest() is None
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        load_checkpoint(str(tmp_path))


def test_a_copied_run_whose_best_points_elsewhere_never_deletes_that_folder(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "photo.png").write_bytes(b"user data")
    root = tmp_path / "run" / "checkpoints"
    root.mkdir(parents=True)
    os.symlink(str(precious), str(root / "best"))
    manager = CheckpointManager(str(root), keep_last=2)
    manager.save_best(2, "psnr", 20.0, {"generator": {"w": ckpt_mod.paddle.ones([2])}}, {}, trainer_state(2))
    assert (precious / "photo.png").read_bytes() == b"user data"
    assert load_checkpoint(str(root / "best"))["trainer"]["step"] == 2


def test_the_train_command_refuses_an_existing_run_with_one_message(tmp_path, capsys):
    import yaml

    from ppinpaint.commands.train import main as train_main

    cfg = tmp_path / "tiny.yml"
    cfg.write_text(yaml.safe_dump(tiny_config(iters=2).data))
    assert train_main(["-c", str(cfg), "--output", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert train_main(["-c", str(cfg), "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds a run" in err and "--overwrite" in err
    assert train_main(["-c", str(cfg), "--output", str(tmp_path / "run"), "--overwrite"]) == 0
