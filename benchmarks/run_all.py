"""Every model's benchmark as one table: inference (eager and compiled engines) and the eager train steps.

Each (model, mode) runs in its own process so its peak RSS is its own; each prints JSON lines
(benchmarks/common.py) and this script writes them as ``benchmarks/RESULTS.md`` (official widths)
or ``benchmarks/RESULTS_quick.md`` (``--quick``). Modes:

- ``eager``, ``paddle_inference``, ``onnx``, ``openvino``: ``model.infer`` latency, eagerly or through
  ``ppinpaint.compiled`` (build = export + predictor + the self-check against eager);
- ``auto``: the default engine a user gets (``compile_model(model, "auto")``); the row names its choice;
- ``gen_step``: the eager generator train step as the official one is timed (forward, L1 to a target,
  backward, Adam step), on the trainer's MKL code path;
- ``gan_step``: one full GAN iteration as ppinpaint's trainer runs it (``model.train_step``: the critic
  updates with their gradient penalties, then one generator update; DeepFill v1 runs ``n_critic`` steps).

The per-model scripts (bench_*.py) remain for layer detail.
    PYTHONPATH=. python benchmarks/run_all.py            # official widths, everything (about an hour on 2 cores)
    PYTHONPATH=. python benchmarks/run_all.py --models rainnet --modes onnx gen_step --sizes 256 --batches 1
    PYTHONPATH=. python benchmarks/run_all.py --quick    # quickstart widths, small sizes, batch 1 (minutes)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name: (official config + overrides, quickstart config + overrides, quick sizes). CSA's training-only
# VGG16 would download ImageNet weights; random weights time the same.
MODELS = {
    "s2am": (("configs/s2am/iharmony4_256.yml", []), ("configs/s2am/quickstart.yml", []), [256]),
    "s2asc": (("configs/s2am/iharmony4_256.yml", ["model.generator.attention=s2asc"]),
              ("configs/s2am/quickstart.yml", ["model.generator.attention=s2asc"]), [256]),
    "rainnet": (("configs/rainnet/iharmony4_256.yml", []), ("configs/rainnet/quickstart.yml", []), [256]),
    "csa": (("configs/csa/places2_256.yml", ["model.vgg.pretrained=false"]),
            ("configs/csa/quickstart.yml", ["model.vgg.pretrained=false"]), [256]),
    "deepfill_v1": (("configs/deepfill_v1/places2_256.yml", []), ("configs/deepfill_v1/quickstart.yml", []),
                    [64, 128]),
}
# mode -> compile_model engine; "auto" is what users get by default (the row names the engine it chose)
ENGINES = {"paddle_inference": "paddle", "onnx": "onnx", "openvino": "openvino", "auto": "auto"}
TRAIN_MODES = ("gen_step", "gan_step")
MODES = ("eager",) + tuple(ENGINES) + TRAIN_MODES
DEFAULT_MODES = MODES

# The official PyTorch code measured on this machine (2-core AMD EPYC, torch 2.13.0 CPU, its default 2
# threads), ms by (model, kind, size, batch); kind "forward" (eval, no grad) or "gen_step". How, in words:
# RESULTS_METHOD below. S2AM is S2AD (rascv2), S2ASC rascv1.
OFFICIAL_HERE_MS = {
    ("deepfill_v1", "forward", 256, 1): 381.2, ("deepfill_v1", "forward", 512, 1): 3696.6,
    ("deepfill_v1", "forward", 256, 8): 4101.1, ("deepfill_v1", "gen_step", 256, 1): 1206.9,
    ("csa", "forward", 256, 1): 695.1, ("csa", "forward", 512, 1): 2652.3, ("csa", "forward", 256, 8): 5496.1,
    ("csa", "gen_step", 256, 1): 1690.5,
    ("rainnet", "forward", 256, 1): 133.6, ("rainnet", "forward", 512, 1): 533.2, ("rainnet", "forward", 256, 8): 1339.3,
    ("rainnet", "gen_step", 256, 1): 685.2,
    ("s2am", "forward", 256, 1): 344.2, ("s2am", "forward", 512, 1): 1546.1, ("s2am", "forward", 256, 8): 3100.3,
    ("s2am", "gen_step", 256, 1): 1131.8,
    ("s2asc", "forward", 256, 1): 276.3, ("s2asc", "forward", 512, 1): 725.0, ("s2asc", "forward", 256, 8): 1382.4,
    ("s2asc", "gen_step", 256, 1): 746.8,
}
OFFICIAL_HERE_NOTE = ("session 6, 2026-12-02 13:58–14:02 UTC, the machine otherwise idle (load average 0.8–1.7 "
                      "from the runner itself), each official generator and mode alone in its own process, minimum "
                      "of 4 (batch 8: of 2; generator step: of 3) after a warm-up; ours ran right after")
# The issue's figures (issue 15: torch 2.13 CPU, batch 1, "a quiet machine of this kind"), seconds.
OFFICIAL_ISSUE_S = {
    ("deepfill_v1", "forward", 256): 0.287, ("csa", "forward", 256): 0.422, ("rainnet", "forward", 256): 0.128,
    ("s2am", "forward", 256): 0.294, ("s2asc", "forward", 256): 0.164,
    ("deepfill_v1", "forward", 512): 3.03, ("csa", "forward", 512): 2.29, ("rainnet", "forward", 512): 0.319,
    ("s2am", "forward", 512): 1.12, ("s2asc", "forward", 512): 0.53,
    ("deepfill_v1", "gen_step", 256): 0.93, ("csa", "gen_step", 256): 1.91, ("rainnet", "gen_step", 256): 0.53,
    ("s2am", "gen_step", 256): 0.91,
}
RESULTS_METHOD = (
    "Official (here): the official repositories at their newest commit (daa233/generative-inpainting-pytorch "
    "`model.networks.Generator` with input_dim 3, ngf 32; KumapowerLIU/CSA-inpainting `networks.define_G` netP "
    "`unet_256` + netG `unet_csa`, ngf 64, instance norm, the official `set_input`/`forward` preparation, the "
    "InnerCos targets a fixed random tensor since the VGG is not the generator; junleen/RainNet "
    "`define_G(3, 3, 64, 'rainnet', 'RAIN')` with dropout as its trainer builds it; vinthony/s2am "
    "`rascv2()` (S2AD) and `rascv1()` (S2ASC)) imported in a torch 2.13.0 CPU process (default threads: 2; "
    "torchvision replaced by an empty module, only the official VGG losses need it; CSA's "
    "`torch.cuda.is_available` tests called, so it stays on the CPU), default initialisation, random inputs with "
    "a centred square hole of half the side. Forward: `eval()`, `no_grad`. Generator step: `train()`, "
    "`zero_grad`, forward, L1 to a fixed random target (DeepFill: of the final output; CSA: of netP's and netG's "
    "outputs), backward, `torch.optim.Adam.step`. Each figure is the minimum of the repeats after one warm-up "
    "(ours: the median), so the ratios lean towards the official side.")


def _inputs(batch: int, size: int):
    """Random [0,1] images with a centred square hole/foreground (as harmonization_bench.composites)."""
    sys.path.insert(0, HERE)
    from harmonization_bench import composites

    return composites(batch, size)


def generator_outputs(name: str, model, image, mask) -> list:
    """Every output of the generator(s) a generator step trains, for an image in the nets' value range."""
    import paddle

    net = model.nets["generator"]
    if name == "deepfill_v1":
        return list(model.generate(image * (1.0 - mask), mask))
    if name == "csa":
        return list(net(image, mask))                  # rough (netP) and refined (netG)
    if name == "rainnet":
        return [net(image, mask)]
    return [net(paddle.concat([image, mask], axis=1))]  # S2AM: the official 4-channel input


def _gen_step(name: str, model, batch: int, size: int, repeat: int) -> Dict[str, float]:
    """Time forward + L1 + backward + Adam on the generator, as the official step is timed."""
    import paddle
    import paddle.nn.functional as F

    from common import time_call
    from ppinpaint.engine.optim import Adam

    image, mask = _inputs(batch, size)
    image, target = model.to_net(image), model.to_net(_inputs(batch, size)[0].flip([2]))
    model.train()
    opt = Adam(model.parameters(["generator"]), learning_rate=1e-4)

    def step():
        loss = paddle.add_n([F.l1_loss(out, target) for out in generator_outputs(name, model, image, mask)])
        loss.backward()
        opt.step()
        opt.clear_grad(set_to_zero=False)
        return loss.numpy()

    return time_call(step, warmup=1, repeat=repeat)


def _gan_step(config: str, opts: List[str], batch: int, size: int, repeat: int) -> Dict[str, float]:
    """Time one trainer iteration: ``n_critic`` calls of ``model.train_step``, the last one updating the generator."""
    import ppinpaint
    from common import time_call
    from ppinpaint.api import as_config
    from ppinpaint.engine.optim import build_optimizers

    cfg = as_config(os.path.join(ROOT, config), opts)
    model = ppinpaint.build_model(cfg)
    optimizers, _ = build_optimizers(cfg.get("optimizers"), model.nets, cfg.origin)
    model.attach(optimizers)
    model.train()
    image, mask = _inputs(batch, size)
    data = {"image": image, "mask": mask, "target": _inputs(batch, size)[0].flip([2])}
    critic_steps = int(getattr(model, "n_critic", 1))
    steps = iter(range(10 ** 6))

    def iteration():
        for _ in range(critic_steps):
            losses = model.train_step(data, next(steps))
        # The trainer reads every loss once per step (its log line); so does the benchmark.
        return {k: float(v) for k, v in losses.items()}

    return {**time_call(iteration, warmup=1, repeat=repeat), "critic_steps": critic_steps}


def run_one(name: str, mode: str, quick: bool, sizes: List[int], batches: List[int], repeat: int) -> None:
    """Child process: time one model in one mode on every (size, batch); one JSON line each."""
    sys.path[:0] = [HERE, ROOT]
    from ppinpaint.utils import runtime

    if mode in TRAIN_MODES:
        runtime.prefer_fast_mkl()  # as the trainer does, before anything in this process computes
        runtime.keep_freed_memory()
    import ppinpaint
    from common import emit, peak_rss_mb, time_call
    from ppinpaint.compiled import compile_model

    config, opts = MODELS[name][1 if quick else 0]
    common = {"model": name, "mode": mode, "config": config, "threads": runtime.thread_count(),
              "mkl_cpu_type": os.environ.get("MKL_DEBUG_CPU_TYPE", "")}
    if mode in TRAIN_MODES:
        for size in sizes:
            for batch in batches:
                if mode == "gen_step":
                    model = ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)
                    timing = _gen_step(name, model, batch, size, repeat)
                else:
                    timing = _gan_step(config, opts, batch, size, repeat)
                emit({**common, "size": size, "batch": batch, **timing,
                      "images_per_s": 1000.0 * batch / timing["median_ms"], "peak_rss_mb": round(peak_rss_mb(), 1)})
        return
    model = ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)
    with tempfile.TemporaryDirectory() as cache:
        predictor, build = model, {}
        if mode != "eager":
            # Export + predictor + the self-check against eager, as a user's first call pays it.
            start = time.perf_counter()
            predictor = compile_model(model, ENGINES[mode], cache_dir=cache)
            build = {"build_s": round(time.perf_counter() - start, 1), "engine": getattr(predictor, "engine", "eager")}
        for size in sizes:
            for batch in batches:
                image, mask = _inputs(batch, size)
                timing = time_call(lambda: predictor.infer(image, mask).numpy(), warmup=1, repeat=repeat)
                emit({**common, **build, "size": size, "batch": batch, **timing,
                      "images_per_s": 1000.0 * batch / timing["median_ms"], "peak_rss_mb": round(peak_rss_mb(), 1)})


def _mode(r: Dict[str, object]) -> str:
    """A record's mode, with the engine ``auto`` chose."""
    return f"{r['mode']} ({r['engine']})" if r["mode"] == "auto" and r.get("engine") else str(r["mode"])


def _kind(mode: str) -> str:
    return mode if mode in TRAIN_MODES else "forward"


def official_ms(r: Dict[str, object]) -> Optional[float]:
    """The official figure measured here for this record's model, kind, size and batch (ms), if any."""
    return OFFICIAL_HERE_MS.get((r["model"], _kind(str(r["mode"])), r["size"], r["batch"]))


def issue_ms(r: Dict[str, object]) -> Optional[float]:
    """The issue's official figure for this record (batch 1 only), in ms, if any."""
    value = OFFICIAL_ISSUE_S.get((r["model"], _kind(str(r["mode"])), r["size"]))
    return value * 1000.0 if value is not None and r["batch"] == 1 else None


def _ratio(official: Optional[float], ours: float) -> str:
    return f"{official:.0f} | {official / ours:.2f}" if official else "— | —"


def summary(records: List[Dict[str, object]]) -> List[str]:
    """The top tables: the fastest compiled engine per model and size, and the train steps, beside the official."""
    ok = [r for r in records if "error" not in r]
    lines = []
    if any(r["mode"] in ENGINES for r in ok):
        lines += ["## Against the official code (batch 1)", "",
                  "| model | size | eager (ms) | best compiled engine | ms | official here (ms) | official / ours "
                  "| official, issue (ms) | official / ours |", "|---|---|--:|---|--:|--:|--:|--:|--:|"]
    for name in dict.fromkeys(r["model"] for r in ok):
        for size in sorted({r["size"] for r in ok if r["model"] == name}):
            rows = [r for r in ok if r["model"] == name and r["size"] == size and r["batch"] == 1]
            eager = [r for r in rows if r["mode"] == "eager"]
            compiled = [r for r in rows if r["mode"] in ENGINES]
            if not compiled:
                continue
            best = min(compiled, key=lambda r: r["median_ms"])
            eager_ms = f"{eager[0]['median_ms']:.0f}" if eager else "—"
            lines.append(f"| {name} | {size}² | {eager_ms} | {_mode(best)} | {best['median_ms']:.0f} | "
                         f"{_ratio(official_ms(best), best['median_ms'])} | {_ratio(issue_ms(best), best['median_ms'])} |")
    if lines:
        lines.append("")
    steps = [r for r in ok if r["mode"] in TRAIN_MODES]
    if steps:
        lines += ["## Eager train steps", "",
                  "| model | step | size | batch | ms | official here (ms) | official / ours | official, issue (ms) "
                  "| official / ours | critic steps | MKL_DEBUG_CPU_TYPE |", "|---|---|---|--:|--:|--:|--:|--:|--:|--:|---|"]
        for r in steps:
            lines.append(f"| {r['model']} | {r['mode']} | {r['size']}² | {r['batch']} | {r['median_ms']:.0f} | "
                         f"{_ratio(official_ms(r), r['median_ms'])} | {_ratio(issue_ms(r), r['median_ms'])} | "
                         f"{r.get('critic_steps', '—')} | {r['mkl_cpu_type'] or 'unset'} |")
        lines.append("")
    return lines


def table(records: List[Dict[str, object]], quick: bool, command: str) -> str:
    """The Markdown report: the summary tables (official widths) and every record."""
    threads = sorted({str(r["threads"]) for r in records if "threads" in r}) or ["?"]
    lines = ["# Benchmarks", "",
             f"`{command}` — CPU, {'/'.join(threads)} thread(s) (ppinpaint's default: the process's CPU affinity), "
             "Paddle Inference with oneDNN where deploy.yml allows; random weights, latency = median of the "
             "repeats after one warm-up. Peak RSS is the process's (build included for compiled modes); build = "
             "export + predictor + check against eager. Train steps run on the trainer's MKL path. "
             "official / ours > 1 means ours is faster.", ""]
    if not quick:
        lines += summary(records) + [f"Official here ({OFFICIAL_HERE_NOTE}). {RESULTS_METHOD}", "",
                                     "Official, issue: the figures of issue 15 (torch 2.13 CPU, batch 1, a quiet "
                                     "machine of this kind); S2AM there is S2AD.", ""]
    lines += ["## Every measurement", "",
              "| model | config | mode | size | batch | latency (ms) | throughput (img/s) | peak RSS (MiB) | build (s) "
              "| official here (ms) | official / ours |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['model']} | `{r['config']}` | {r['mode']} | — | — | {r['error']} | — | — | — | — | — |")
            continue
        official = None if quick else official_ms(r)
        lines.append(f"| {r['model']} | `{r['config']}` | {_mode(r)} | {r['size']}² | {r['batch']} | "
                     f"{r['median_ms']:.1f} | {r['images_per_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r.get('build_s', '—')} | {_ratio(official, r['median_ms'])} |")
    return "\n".join(lines) + "\n"


def _child_args(args: argparse.Namespace, name: str, mode: str) -> List[str]:
    cmd = [sys.executable, os.path.abspath(__file__), "--one", name, mode] + (["--quick"] if args.quick else [])
    for flag in ("sizes", "batches"):
        if getattr(args, flag):
            cmd += [f"--{flag}", *map(str, getattr(args, flag))]
    if args.repeat:
        cmd += ["--repeat", str(args.repeat)]
    return cmd


def main(argv: List[str] = None) -> int:
    """Run every (model, mode) in a child process and write the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="quickstart widths, small sizes, batch 1, one repeat")
    p.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    p.add_argument("--modes", nargs="+", default=list(DEFAULT_MODES), choices=list(MODES))
    p.add_argument("--output", help="Markdown file (default: benchmarks/RESULTS.md, with --quick RESULTS_quick.md)")
    p.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    p.add_argument("--sizes", type=int, nargs="+", default=None,
                   help="image sides (default 256 512; train steps 256)")
    p.add_argument("--batches", type=int, nargs="+", default=None, help="batch sizes (default 1 8; train steps 1)")
    p.add_argument("--repeat", type=int, default=None, help="timed runs after the warm-up (default 3, --quick 1)")
    args = p.parse_args(argv)
    if args.one:
        name, mode = args.one
        train = mode in TRAIN_MODES
        quick_sizes = MODELS[name][2][-1:] if train else MODELS[name][2]  # a GAN step needs its critic's size
        sizes = args.sizes or (quick_sizes if args.quick else [256] if train else [256, 512])
        batches = args.batches or ([1] if args.quick or train else [1, 8])
        run_one(name, mode, args.quick, sizes, batches, args.repeat or (1 if args.quick else 3))
        return 0
    records = []
    for name in args.models:
        for mode in args.modes:
            proc = subprocess.run(_child_args(args, name, mode), capture_output=True, text=True, cwd=ROOT)
            got = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
            if proc.returncode != 0 and not got:
                # The child's last stderr line is its exception: the table says why, not only that.
                reason = (proc.stderr.strip().splitlines() or [""])[-1][:160].replace("|", "/")
                got = [{"model": name, "mode": mode, "config": "",
                        "error": f"failed (exit {proc.returncode}): {reason}"}]
            for r in got:
                print(json.dumps(r, sort_keys=True), flush=True)
            records += got
    output = args.output or os.path.join(HERE, "RESULTS_quick.md" if args.quick else "RESULTS.md")
    command = "python benchmarks/run_all.py " + " ".join(argv if argv is not None else sys.argv[1:])
    with open(output, "w", encoding="utf-8") as f:
        f.write(table(records, args.quick, command.strip()))
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
