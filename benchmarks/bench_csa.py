"""CSA speed: the CSA layer (ours vs the official, interleaved) and the whole generator, 256², centred holes.

The layer runs at the official CSA level (1/8 size: 32x32 positions; ngf*8 channels, 512 at the
official ngf 64). One JSON line per measurement (benchmarks/common.py).

``--official DIR`` also times the official ``CSA_model`` (KumapowerLIU/CSA-inpainting, an
extracted tree; needs torch, which is never a ppinpaint dependency) in the same process on the
same inputs: the two take turns, each turn a ~100 ms block of back-to-back calls (``--block-ms``;
0 alternates single calls), after a warm-up, with the cyclic garbage collector off while timing
(as timeit); medians of the per-call times.
The thread count is the same for both (``OMP_NUM_THREADS``, default 1, also given to torch).
Example:
    PYTHONPATH=. python benchmarks/bench_csa.py --channels 64 512 --official /tmp/CSA-inpainting --skip-net
"""
import os

# Before numpy/paddle/torch load their thread pools: both sides get the same count.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from typing import Callable, Dict, Optional  # noqa: E402

import numpy as np  # noqa: E402
import paddle  # noqa: E402

from common import emit, peak_rss_mb, time_call  # noqa: E402  (benchmarks/ is sys.path[0])
from ppinpaint.modeling.generators.csa import CSAGenerator  # noqa: E402
from ppinpaint.modeling.layers.csa import CoherentSemanticAttention, csa_feature_mask  # noqa: E402

SIZE = 256


def centred_mask(batch: int, hole: int) -> np.ndarray:
    """[N,1,256,256] float32 with a centred hole x hole square."""
    mask = np.zeros((batch, 1, SIZE, SIZE), np.float32)
    start = (SIZE - hole) // 2
    mask[..., start:start + hole, start:start + hole] = 1
    return mask


def load_official(root: str):
    """The official ``CSA_model`` class and torch, with the shims its CUDA-only code needs on CPU."""
    import torch
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.cuda.FloatTensor = torch.FloatTensor
    sys.path.insert(0, root)
    # The official models/__init__ imports the whole training stack; only the layer is needed.
    package = types.ModuleType("models")
    package.__path__ = [os.path.join(root, "models")]
    sys.modules["models"] = package
    from models.CSA_model import CSA_model
    return CSA_model, torch


def time_interleaved(fns: Dict[str, Callable[[int], object]], warmup: int = 1, repeat: int = 9,
                     block_ms: float = 100.0) -> Dict[str, dict]:
    """Per-call median and min ms of each ``fn(call_index)``, the functions taking turns each repeat.

    Each turn is a block of back-to-back calls lasting about ``block_ms`` (one call of the slow
    official, tens of ours), timed as a whole: every function is measured in its own steady state,
    and machine-load drift hits all alike because the blocks alternate. ``block_ms`` 0 alternates
    single calls, which charges the short call with the cold start left by the long one (measured
    here: ~1 ms after any 100 ms of other work, even a sleep).
    """
    first, calls = {}, {name: 0 for name in fns}
    for name, fn in fns.items():
        for _ in range(warmup):
            start = time.perf_counter()
            fn(calls[name])
            calls[name] += 1
            first[name] = (time.perf_counter() - start) * 1000.0
    loops = {name: max(1, int(block_ms / max(ms, 1e-3))) for name, ms in first.items()}
    times = {name: [] for name in fns}
    # As timeit does: no cyclic garbage collection inside the timed calls (the official layer
    # leaves many objects behind, and a collection would land in whichever call comes next).
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            for name, fn in fns.items():
                start = time.perf_counter()
                for _ in range(loops[name]):
                    fn(calls[name])
                    calls[name] += 1
                times[name].append((time.perf_counter() - start) * 1000.0 / loops[name])
    finally:
        gc.enable()
    return {name: {"median_ms": statistics.median(t), "min_ms": min(t), "calls_per_block": loops[name]}
            for name, t in times.items()}


INPUTS = 8  # distinct inputs cycled through, 16 MB at 512 channels: no call finds its data in cache


def layer_runs(channels: int, mask: np.ndarray, backward: bool, official_cls, torch, rng) -> Dict[str, Callable]:
    """Callables ``fn(i)`` for our layer (and the official one at batch 1) on the same i-th input and gradient."""
    batch = mask.shape[0]
    # Non-negative features, like the post-conv features the layer sees in practice.
    xs = [np.abs(rng.standard_normal((batch, channels, 32, 32))).astype(np.float32) for _ in range(INPUTS)]
    grads = [rng.standard_normal(x.shape).astype(np.float32) for x in xs]
    layer = CoherentSemanticAttention("official")
    feat_mask = csa_feature_mask(paddle.to_tensor(mask))
    ours_x = [paddle.to_tensor(x, stop_gradient=not backward) for x in xs]
    ours_g = [paddle.to_tensor(g) for g in grads]

    def ours(i):
        x = ours_x[i % INPUTS]
        if not backward:
            with paddle.no_grad():
                return layer(x, feat_mask), None
        x.clear_gradient(False)
        out = layer(x, feat_mask)
        out.backward(ours_g[i % INPUTS])
        return out, x.grad

    runs = {"ours": ours}
    if official_cls is not None and batch == 1:
        official = official_cls(5 / 16, 1, 1, 1, 1, 1)
        official.set_mask(torch.tensor(mask).byte(), 3, 5 / 16)
        off_x = [torch.tensor(x, requires_grad=backward) for x in xs]
        off_g = [torch.tensor(g) for g in grads]

        def run_official(i):
            # Steady state of the official training loop: the mask indices are cached after the
            # first call (fixed_mask), so only the layer itself is timed.
            x = off_x[i % INPUTS]
            if not backward:
                with torch.no_grad():
                    return official(x), None
            x.grad = None
            out = official(x)
            out.backward(off_g[i % INPUTS])
            return out, x.grad
        runs["official"] = run_official
    return runs


def max_diff(runs: Dict[str, Callable]) -> Optional[Dict[str, float]]:
    """Max abs differences of output and input gradient, ours vs official (honesty check of the timing)."""
    if "official" not in runs:
        return None
    ours, official = runs["ours"](0), runs["official"](0)
    diff = {"out_max_abs_diff": float(np.abs(ours[0].numpy() - official[0].detach().numpy()).max())}
    if ours[1] is not None:
        diff["grad_max_abs_diff"] = float(np.abs(ours[1].numpy() - official[1].numpy()).max())
    return diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=64, help="generator width (layer channels default to ngf*8)")
    parser.add_argument("--channels", type=int, nargs="+", default=None, help="layer channels to time")
    parser.add_argument("--holes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--block-ms", type=float, default=100.0,
                        help="length of each function's turn; 0 alternates single calls")
    parser.add_argument("--official", default=None, help="extracted official CSA-inpainting tree (needs torch)")
    parser.add_argument("--skip-net", action="store_true", help="time the layer only")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    official_cls, torch = load_official(args.official) if args.official else (None, None)
    threads = int(os.environ["OMP_NUM_THREADS"])
    for channels in args.channels or [args.ngf * 8]:
        for hole in args.holes:
            for batch in args.batches:
                mask = centred_mask(batch, hole)
                holes_at_32 = int(csa_feature_mask(paddle.to_tensor(mask[:1])).sum())
                for backward in (False, True):
                    runs = layer_runs(channels, mask, backward, official_cls, torch, rng)
                    timing = time_interleaved(runs, repeat=args.repeat, block_ms=args.block_ms)
                    record = {"model": "csa", "what": "csa_layer_fwd_bwd" if backward else "csa_layer_fwd",
                              "channels": channels, "hole": hole, "batch": batch, "holes_at_32": holes_at_32,
                              "threads": threads, "block_ms": args.block_ms,
                              **{f"ours_{k}": v for k, v in timing["ours"].items()}}
                    if "official" in timing:
                        record.update({f"official_{k}": v for k, v in timing["official"].items()})
                        record["speedup"] = timing["official"]["median_ms"] / timing["ours"]["median_ms"]
                        record.update(max_diff(runs))
                    emit(record)
    if args.skip_net:
        return
    net = CSAGenerator(ngf=args.ngf).eval()
    for hole in args.holes:
        for batch in args.batches:
            mask = paddle.to_tensor(centred_mask(batch, hole))
            image = paddle.to_tensor(rng.uniform(-1, 1, (batch, 3, SIZE, SIZE)).astype(np.float32))
            with paddle.no_grad():
                timing = time_call(lambda: net(image, mask), repeat=max(1, args.repeat // 2))
            emit({"model": "csa", "what": "generator", "ngf": args.ngf, "hole": hole, "batch": batch,
                  "threads": threads, **timing, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
