"""Shared output of the harmonization comparisons: curves PNG, JSON summary, printed final table."""
import json
import os
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

Rows = Dict[str, List[Dict[str, float]]]
PALETTE = ((200, 80, 40), (40, 120, 220), (60, 160, 60), (150, 60, 170))


def plot_curves(results: Rows, reference: Optional[Dict[str, float]], path: str,
                keys: Sequence[str] = ("fmse", "psnr"), x: str = "epoch") -> None:
    """One panel per metric (or loss) against ``x``, one line per method (grey: the reference, if
    any), as a PNG without matplotlib."""
    panels = []
    for key in keys:
        canvas = np.full((260, 360, 3), 255, np.uint8)
        values = [r[key] for rows in results.values() for r in rows] + ([reference[key]] if reference else [])
        lo, hi = min(values), max(values)

        def y(v: float) -> int:
            return 230 - int(200 * (v - lo) / max(hi - lo, 1e-9))

        if reference:
            cv2.line(canvas, (30, y(reference[key])), (330, y(reference[key])), (160, 160, 160), 1)
        for i, (colour, (name, rows)) in enumerate(zip(PALETTE, results.items())):
            pts = [(30 + int(300 * r[x] / max(1, rows[-1][x])), y(r[key])) for r in rows]
            cv2.polylines(canvas, [np.int32(pts)], False, colour, 2)
            # a legend row per method: end-of-line labels collide when the curves end close together
            cv2.putText(canvas, name, (270, 40 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
        cv2.putText(canvas, f"{key} vs {x}  [{lo:.3g}, {hi:.3g}]", (10, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1)
        panels.append(canvas)
    cv2.imwrite(path, cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR))


def write_report(out_dir: str, args: dict, reference: Dict[str, float], results: Rows) -> None:
    """curves.png and summary.json in ``out_dir``; the final fMSE / PSNR per method printed."""
    plot_curves(results, reference, os.path.join(out_dir, "curves.png"))
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump({"args": args, "composite": reference, "results": results}, f, indent=1)
    print(f"\nfinal (same budget; the composite itself scores fMSE {reference['fmse']:.2f}, "
          f"PSNR {reference['psnr']:.2f} dB):")
    for name, rows in results.items():
        first, last = rows[0], rows[-1]
        print(f"  {name:8s} fMSE {first['fmse']:.2f} -> {last['fmse']:.2f}   PSNR {first['psnr']:.2f} -> "
              f"{last['psnr']:.2f} dB   train {last['seconds']:.0f} s")
