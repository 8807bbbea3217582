"""The training loop shared by every method: the model owns its step, the trainer owns the run."""
import math
import os
import platform
import random
import time
from typing import Dict, Optional

import numpy as np
import paddle
from paddle.io import DataLoader
from tqdm import tqdm

from ..api import build_model
from ..builder import build_dataset
from ..config import Config, ConfigError
from ..utils import runtime
from . import distributed
from .checkpoint import (CheckpointManager, RunLock, config_digest, continue_lineage, load_checkpoint,
                         load_portable_optimizer_state, portable_optimizer_state, prepare_run_folder)
from .evaluator import evaluate, metrics_from_config
from .logger import RunLogger, format_duration, format_number
from .optim import build_optimizers
from .sampler import TrainBatchSampler

# Metric names containing one of these are errors (lower is better); others are scores.
LOWER_IS_BETTER = ("mse", "l1", "l2", "mae", "lpips", "fid", "loss")


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or Inf; the run stopped without saving the bad weights."""


def parse_best_metric(spec: Optional[str]):
    """``"max:psnr"`` / ``"min:fmse"`` / ``"psnr"`` -> (name, mode) with the mode guessed from the name."""
    if not spec:
        return None, None
    mode, _, name = spec.rpartition(":")
    if mode not in ("", "max", "min"):
        raise ConfigError(f"train.best_metric {spec!r}: use 'name', 'max:name' or 'min:name'")
    if not mode:
        leaf = name.split("/")[-1].lower()
        mode = "min" if any(k in leaf for k in LOWER_IS_BETTER) else "max"
    return name, mode


def resolve_amp(setting) -> Optional[str]:
    """The AMP dtype to use, or None: Paddle runs AMP only on GPU/XPU/custom devices."""
    if not setting:
        return None
    dtype = "float16" if setting is True else str(setting)
    if dtype not in ("float16", "bfloat16"):
        raise ConfigError(f"train.amp must be false, true, 'float16' or 'bfloat16', got {setting!r}")
    if paddle.get_device().startswith("cpu"):
        return None
    return dtype


class Trainer:
    """Builds model, optimizers, data, logger and checkpoints from a config, then runs ``train()``."""

    def __init__(self, cfg: Config, output_dir: Optional[str] = None, resume: Optional[str] = None,
                 overwrite: bool = False) -> None:
        # Effective when nothing in this process has computed yet (tools/train.py): 1.5-2x faster
        # eager convolutions on AMD CPUs (docs/speed.md).
        runtime.prefer_fast_mkl()
        # A step's large tensors reuse the last step's memory instead of being faulted in again.
        runtime.keep_freed_memory()
        self.cfg = cfg
        self.train_cfg = cfg.section("train")
        self.eval_cfg = cfg.section("eval")
        distributed.init()
        self.rank, self.world = distributed.rank(), distributed.world_size()
        if self.world > 1 and not os.environ.get(runtime.THREADS_ENV):
            # Data-parallel processes share the cores instead of each taking all of them.
            runtime.set_threads(max(1, runtime.available_cores() // self.world))
        seed = int(self.train_cfg["seed"])
        self._seed_everything(seed)

        state = load_checkpoint(resume) if resume else None
        run_of_state = os.path.dirname(os.path.dirname(state["path"])) if state else None
        if output_dir is None:
            output_dir = run_of_state or self.train_cfg["output_dir"]
        self.output_dir = output_dir

        self.model = build_model(cfg)
        distributed.broadcast_parameters(self.model.nets.values())
        self.optimizers, self.schedulers = build_optimizers(cfg.get("optimizers"), self.model.nets, cfg.origin)
        amp = resolve_amp(self.train_cfg["amp"])
        self.model.attach(self.optimizers, amp_dtype=amp, amp_level=self.train_cfg["amp_level"],
                          reduce_gradients=distributed.all_reduce_gradients if self.world > 1 else None)

        self.train_dataset = build_dataset(cfg, "train_dataset", "training")
        self.val_dataset = build_dataset(cfg, "val_dataset", "evaluation") if cfg.get("val_dataset") else None
        self.metrics = metrics_from_config(self.eval_cfg, self.model.task, cfg.origin) if self.val_dataset else []
        self.best_name, self.best_mode = parse_best_metric(self.train_cfg["best_metric"])
        self.best_value: Optional[float] = None

        # The run folder appears only once everything in the config has been built, and only for
        # this run: another run's folder is refused (or, with overwrite, its checkpoints removed).
        self.lock = RunLock(output_dir)
        if self.rank == 0:
            same_run = bool(run_of_state) and os.path.realpath(run_of_state) == os.path.realpath(output_dir)
            prepare_run_folder(output_dir, resume=same_run, overwrite=overwrite)
            self.lock.acquire()
        self.logger = RunLogger(output_dir, enabled=self.rank == 0)
        self._log_header()
        if self.train_cfg["amp"] and amp is None:
            self.logger.info("train.amp is set, but Paddle applies AMP only on GPU/XPU: training in float32 on CPU")

        self.checkpoints = CheckpointManager(os.path.join(output_dir, "checkpoints"), self.train_cfg["keep_last"],
                                             lineage=continue_lineage(state["path"]) if state else None)
        self.start_step = 0
        if state:
            self._restore(state)
        if self.rank == 0:
            # The saved config names the folder this run really wrote to (--output may differ from the file).
            cfg.data["train"] = {**(cfg.data.get("train") or {}), "output_dir": output_dir}
            cfg.dump(os.path.join(output_dir, "config.yml"))

    def _log_header(self) -> None:
        """What a reader of train.log needs to reproduce or compare the run."""
        from .. import __version__

        tc = self.train_cfg
        overrides = sorted({src[3:] for src in self.cfg.origins.values() if src.startswith("-o ")})
        counts = {role: sum(int(np.prod(p.shape)) for p in net.parameters()) for role, net in self.model.nets.items()}
        for line in (
                f"ppinpaint {__version__}, Paddle {paddle.__version__}, Python {platform.python_version()}",
                f"device {paddle.get_device()}, {self.world} process(es)",
                runtime.describe(),
                f"config {self.cfg.path}" + (f" -o {' '.join(overrides)}" if overrides else ""),
                f"run folder {os.path.abspath(self.output_dir)}",
                "parameters: " + ", ".join(f"{role} {n:,}" for role, n in counts.items()),
                f"{len(self.train_dataset)} training samples, batch {tc['batch_size']} per process, "
                f"{tc['iters']} iterations"):
            self.logger.info(line)

    # ---- state ----------------------------------------------------------------------
    @staticmethod
    def _seed_everything(seed: int) -> None:
        # Same seed on every rank: replicas initialise identically (and are broadcast anyway).
        paddle.seed(seed)
        np.random.seed(seed % 2 ** 32)
        random.seed(seed)

    def _trainer_state(self, step: int) -> Dict:
        return {
            "step": step,
            "best_value": self.best_value,
            "world_size": self.world,
            "seed": int(self.train_cfg["seed"]),
            "paddle_rng": paddle.get_rng_state(),
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scalers": {k: s.state_dict() for k, s in self.model.scalers.items()},
            "config_digest": config_digest(self.cfg.data),
        }

    def _restore(self, state: Dict) -> None:
        self.model.set_state_dict(state["model"], strict=True)
        for name, opt in self.optimizers.items():
            if name not in state["optimizers"]:
                raise ValueError(f"checkpoint {state['path']} has no state for optimizer {name!r}")
            load_portable_optimizer_state(opt, state["optimizers"][name], self.model.nets)
        t = state["trainer"]
        for name, sched in self.schedulers.items():
            sched.set_state_dict(t["schedulers"][name])
        for name, scaler in self.model.scalers.items():
            if name in t.get("scalers", {}):
                scaler.load_state_dict(t["scalers"][name])
        if t["world_size"] != self.world:
            self.logger.info(f"resuming a {t['world_size']}-process run with {self.world} processes: "
                             "batches will differ from the original run")
        paddle.set_rng_state(t["paddle_rng"])
        np.random.set_state(t["numpy_rng"])
        random.setstate(t["python_rng"])
        self.start_step = int(t["step"])
        self.best_value = t.get("best_value")
        if t.get("config_digest") not in (None, config_digest(self.cfg.data)):
            self.logger.info("the config differs from the one the checkpoint was trained with")
        self.logger.info(f"resumed from {state['path']} at iteration {self.start_step}")

    def _optimizer_states(self) -> Dict:
        return {k: portable_optimizer_state(o, self.model.nets) for k, o in self.optimizers.items()}

    def save(self, step: int) -> Optional[str]:
        """Write a checkpoint of the current run (rank 0 only)."""
        if self.rank != 0:
            return None
        path = self.checkpoints.save(step, self.model.state_dict(),
                                     self._optimizer_states(),
                                     self._trainer_state(step))
        self.logger.info(f"checkpoint saved: {path}")
        return path

    # ---- loop ----------------------------------------------------------------------
    def train(self) -> Dict[str, float]:
        """Run from the current iteration to ``train.iters``; returns the last evaluation (or losses)."""
        try:
            return self._loop()
        finally:
            self.lock.release()

    def _loop(self) -> Dict[str, float]:
        tc = self.train_cfg
        total = int(tc["iters"])
        sampler = TrainBatchSampler(len(self.train_dataset), int(tc["batch_size"]), int(tc["seed"]),
                                    self.start_step, total, self.rank, self.world)
        loader = DataLoader(self.train_dataset, batch_sampler=sampler, num_workers=int(tc["num_workers"]))
        self.model.train()
        last: Dict[str, float] = {}
        shown: Dict[str, float] = {}
        bar = tqdm(total=total, initial=self.start_step, desc="train", disable=self.rank != 0, dynamic_ncols=True)
        tick, tick_step = time.perf_counter(), self.start_step
        start = tick
        for step, batch in zip(range(self.start_step, total), loader):
            losses = self.model.train_step(batch, step)
            values = {k: float(v) for k, v in losses.items()}
            bad = [k for k, v in values.items() if not math.isfinite(v)]
            if bad:
                latest = self.checkpoints.latest()
                raise TrainingDiverged(
                    f"loss term(s) {', '.join(bad)} became {values[bad[0]]} at iteration {step + 1}; "
                    f"stopped without saving. Last good checkpoint: {latest or 'none yet'}")
            for sched in self.schedulers.values():
                sched.step()
            done = step + 1
            bar.update(1)
            # Terms a step does not compute (the generator's, on critic-only steps) keep their last value.
            order = [k for k in self.model.progress_keys if k in values or k in shown] or list(values)[:4]
            shown.update({k: values[k] for k in order if k in values})
            bar.set_postfix_str(" ".join(f"{k}={format_number(shown[k])}" for k in order if k in shown))
            last = values
            if done % int(tc["log_interval"]) == 0 or done == total:
                now = time.perf_counter()
                speed = (done - tick_step) / max(now - tick, 1e-9)
                eta = (total - done) * (now - start) / (done - self.start_step)
                tick, tick_step = now, done
                lrs = {name: opt.get_lr() for name, opt in self.optimizers.items()}
                self.logger.scalars(values, done)
                self.logger.scalars(lrs, done, prefix="lr")
                self.logger.scalars({"iters_per_sec": speed}, done, prefix="speed")
                first = [k for k in self.model.progress_keys if k in values]
                terms = first + [k for k in values if k not in first]
                self.logger.info(f"iter {done}/{total} " + " ".join(f"{k}={format_number(values[k])}" for k in terms)
                                 + " " + " ".join(f"lr_{k}={v:.3g}" for k, v in lrs.items())
                                 + f" it/s={speed:.2f} eta {format_duration(eta)}")
            if tc["visual_interval"] and done % int(tc["visual_interval"]) == 0:
                self.logger.images(self.model.visuals(), done, hole=self.model.task == "inpainting")
            evaluate_now = self.val_dataset is not None and (
                (tc["eval_interval"] and done % int(tc["eval_interval"]) == 0) or done == total)
            if evaluate_now:
                last = self.evaluate(done)
            if (tc["save_interval"] and done % int(tc["save_interval"]) == 0) or done == total:
                self.save(done)
        bar.close()
        self.logger.close()
        return last

    def evaluate(self, step: int) -> Dict[str, float]:
        """Evaluate on ``val_dataset`` (rank 0), log, and keep the best checkpoint by metric."""
        if self.rank != 0:
            return {}
        from ..metrics.report import format_table, write_report

        ec = self.eval_cfg
        out = os.path.join(self.output_dir, "eval", f"iter_{step:07d}")
        results = evaluate(self.model, self.val_dataset, self.metrics, batch_size=int(ec["batch_size"]),
                           num_workers=int(ec["num_workers"]), max_samples=ec["max_samples"],
                           image_dir=os.path.join(out, "images"), save_images=int(ec["save_images"]),
                           progress=False, on_grid=lambda name, grid: self.logger.image(f"eval/{name}", grid, step),
                           full_resolution=int(ec["full_resolution"]), highres=self.cfg.section("predict"))
        self.model.train()
        write_report(results, out, self.metrics)
        self.logger.scalars({k: v for k, v in results.items() if k != "num_samples"}, step, prefix="eval")
        self.logger.info(f"evaluation at iteration {step}:\n{format_table(results, self.metrics)}")
        if self.best_name:
            if self.best_name not in results:
                raise ConfigError(f"train.best_metric {self.best_name!r} is not among the metrics: {sorted(results)}")
            value = results[self.best_name]
            better = self.best_value is None or (value > self.best_value if self.best_mode == "max"
                                                 else value < self.best_value)
            if math.isfinite(value) and better:
                self.best_value = value
                path = self.checkpoints.save_best(step, self.best_name, value, self.model.state_dict(),
                                                  self._optimizer_states(),
                                                  self._trainer_state(step))
                self.logger.info(f"new best {self.best_name}={format_number(value)} at iteration {step}: {path}")
        return results
