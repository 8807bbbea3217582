"""CSA speed: the CSA layer alone and the whole generator, 256², centred holes of 64² and 128².

The layer runs at the official CSA level (1/8 size: 32x32 positions, ngf*8 channels). One JSON
line per measurement (benchmarks/common.py). Example:
    PYTHONPATH=. python benchmarks/bench_csa.py --ngf 64
"""
import argparse

import numpy as np
import paddle

from common import emit, peak_rss_mb, time_call  # benchmarks/ is sys.path[0]
from ppinpaint.modeling.generators.csa import CSAGenerator
from ppinpaint.modeling.layers.csa import CoherentSemanticAttention, csa_feature_mask

SIZE = 256


def centred_mask(batch: int, hole: int) -> paddle.Tensor:
    """[N,1,256,256] with a centred hole x hole square."""
    mask = np.zeros((batch, 1, SIZE, SIZE), np.float32)
    start = (SIZE - hole) // 2
    mask[..., start:start + hole, start:start + hole] = 1
    return paddle.to_tensor(mask)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--holes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-net", action="store_true", help="time the layer only")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    layer = CoherentSemanticAttention("official")
    net = None if args.skip_net else CSAGenerator(ngf=args.ngf).eval()
    for hole in args.holes:
        for batch in args.batches:
            mask = centred_mask(batch, hole)
            feat_mask = csa_feature_mask(mask)
            # Non-negative features, like the post-conv features the layer sees in practice.
            x = paddle.to_tensor(np.abs(rng.standard_normal((batch, args.ngf * 8, 32, 32))).astype(np.float32))
            common = {"model": "csa", "ngf": args.ngf, "hole": hole, "batch": batch}
            with paddle.no_grad():
                timing = time_call(lambda: layer(x, feat_mask), repeat=args.repeat)
            emit({**common, "what": "csa_layer", **timing, "holes_at_32": int(feat_mask[0].sum())})
            if net is not None:
                image = paddle.to_tensor(rng.uniform(-1, 1, (batch, 3, SIZE, SIZE)).astype(np.float32))
                with paddle.no_grad():
                    timing = time_call(lambda: net(image, mask), repeat=max(1, args.repeat // 2))
                emit({**common, "what": "generator", **timing, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
