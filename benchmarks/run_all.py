"""Every model's inference benchmark, eager and compiled (Paddle Inference or onnxruntime), as one table.

Each (model, mode) runs in its own process so its peak RSS is its own; each prints JSON lines
(benchmarks/common.py) and this script writes them as ``benchmarks/RESULTS.md`` (official widths)
or ``benchmarks/RESULTS_quick.md`` (``--quick``). The per-model
scripts (bench_*.py) remain for layer and training-step detail.
    PYTHONPATH=. python benchmarks/run_all.py            # official widths, 256² and 512², batch 1 and 8
    PYTHONPATH=. python benchmarks/run_all.py --quick    # quickstart widths, small sizes, batch 1 (minutes)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name: (official config + overrides, quickstart config + tiny overrides, quick sizes). CSA's training-only
# VGG16 would download ImageNet weights; inference never runs it.
MODELS = {
    "s2am": (("configs/s2am/iharmony4_256.yml", []), ("configs/s2am/quickstart.yml", []), [256]),
    "rainnet": (("configs/rainnet/iharmony4_256.yml", []), ("configs/rainnet/quickstart.yml", []), [256]),
    "csa": (("configs/csa/places2_256.yml", ["model.vgg.pretrained=false"]), ("configs/csa/quickstart.yml", []), [256]),
    "deepfill_v1": (("configs/deepfill_v1/places2_256.yml", []), ("configs/deepfill_v1/quickstart.yml", []),
                    [64, 128]),
}
MODES = ("eager", "paddle_inference")             # the default run; "onnx" on request (--modes)
ENGINES = {"paddle_inference": "paddle", "onnx": "onnx"}
# The official PyTorch forward (torch 2.13 CPU, batch 1, quiet machine of this kind), seconds by (model, size):
# issue 15. S2AM is S2AD.
OFFICIAL_S = {("deepfill_v1", 256): 0.287, ("csa", 256): 0.422, ("rainnet", 256): 0.128, ("s2am", 256): 0.294,
              ("deepfill_v1", 512): 3.03, ("csa", 512): 2.29, ("rainnet", 512): 0.319, ("s2am", 512): 1.12}


def _inputs(batch: int, size: int):
    """Random [0,1] images with a centred square hole/foreground (as harmonization_bench.composites)."""
    sys.path.insert(0, HERE)
    from harmonization_bench import composites

    image, mask = composites(batch, size)
    return image.numpy(), mask.numpy()


def run_one(name: str, mode: str, quick: bool, sizes: List[int], batches: List[int], repeat: int) -> None:
    """Child process: time one model in one mode on every (size, batch); one JSON line each."""
    sys.path[:0] = [HERE, ROOT]
    import paddle

    import ppinpaint
    from common import emit, peak_rss_mb, time_call
    from ppinpaint.compiled import compile_model
    from ppinpaint.utils.runtime import thread_count

    config, opts = MODELS[name][1 if quick else 0]
    model = ppinpaint.load_model(os.path.join(ROOT, config), opts=opts)
    width = {k: v for k, v in model.nets["generator"].__dict__.items() if k in ("ngf", "cnum")}
    common = {"model": name, "mode": mode, "config": config, "threads": thread_count()}
    with tempfile.TemporaryDirectory() as cache:
        predictor, build = model, {}
        if mode != "eager":
            # Export + predictor + the self-check against eager, as a user's first call pays it.
            start = time.perf_counter()
            predictor = compile_model(model, ENGINES[mode], cache_dir=cache)
            build = {"build_s": round(time.perf_counter() - start, 1)}
        for size in sizes:
            for batch in batches:
                image, mask = (paddle.to_tensor(a) for a in _inputs(batch, size))
                timing = time_call(lambda: predictor.infer(image, mask).numpy(), warmup=1, repeat=repeat)
                emit({**common, **width, **build, "size": size, "batch": batch, **timing,
                      "images_per_s": 1000.0 * batch / timing["median_ms"], "peak_rss_mb": round(peak_rss_mb(), 1)})


def table(records: List[Dict[str, object]], quick: bool) -> str:
    """The Markdown table of all records, with the official forward beside batch-1 rows at the official widths."""
    threads = sorted({str(r["threads"]) for r in records if "threads" in r}) or ["?"]
    lines = ["# Benchmarks", "",
             f"`python benchmarks/run_all.py{' --quick' if quick else ''}` — CPU, {'/'.join(threads)} thread(s) "
             "(ppinpaint's default: the process's CPU affinity), Paddle Inference with oneDNN where deploy.yml "
             "allows; random weights, latency = median of the repeats after one warm-up. Peak RSS is the "
             "process's (build included for compiled modes); build = export + predictor + check against eager. "
             "Official = the official PyTorch forward at batch 1 on a quiet machine of this kind (issue 15); "
             "ratio > 1 means ours is faster.", "",
             "| model | config | mode | size | batch | latency (ms) | throughput (img/s) | peak RSS (MiB) | build (s) "
             "| official (ms) | official / ours |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        if "error" in r:
            lines.append(f"| {r['model']} | `{r['config']}` | {r['mode']} | — | — | {r['error']} | — | — | — | — | — |")
            continue
        official = OFFICIAL_S.get((r["model"], r["size"])) if r["batch"] == 1 and not quick else None
        ref = f"{official * 1000:.0f} | {official * 1000 / r['median_ms']:.2f}" if official else "— | —"
        lines.append(f"| {r['model']} | `{r['config']}` | {r['mode']} | {r['size']}² | {r['batch']} | "
                     f"{r['median_ms']:.1f} | {r['images_per_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{r.get('build_s', '—')} | {ref} |")
    return "\n".join(lines) + "\n"


def main(argv: List[str] = None) -> int:
    """Run every (model, mode) in a child process and write the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="quickstart widths, small sizes, batch 1, one repeat")
    p.add_argument("--models", nargs="+", default=sorted(MODELS), choices=sorted(MODELS))
    p.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES) + ["onnx"])
    p.add_argument("--output", help="Markdown file (default: benchmarks/RESULTS.md, with --quick RESULTS_quick.md)")
    p.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    p.add_argument("--sizes", type=int, nargs="+", default=None)
    p.add_argument("--batches", type=int, nargs="+", default=None)
    p.add_argument("--repeat", type=int, default=None)
    args = p.parse_args(argv)
    if args.one:
        name = args.one[0]
        sizes = args.sizes or (MODELS[name][2] if args.quick else [256, 512])
        batches = args.batches or ([1] if args.quick else [1, 8])
        run_one(name, args.one[1], args.quick, sizes, batches, args.repeat or (1 if args.quick else 3))
        return 0
    records = []
    for name in args.models:
        for mode in args.modes:
            cmd = [sys.executable, os.path.abspath(__file__), "--one", name, mode] + (["--quick"] if args.quick else [])
            for flag in ("sizes", "batches"):
                if getattr(args, flag):
                    cmd += [f"--{flag}", *map(str, getattr(args, flag))]
            if args.repeat:
                cmd += ["--repeat", str(args.repeat)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
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
    with open(output, "w", encoding="utf-8") as f:
        f.write(table(records, args.quick))
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
