"""Evaluation reports: ``metrics.json``, ``metrics.csv`` and a printed table."""
import csv
import json
import os
from typing import Dict


def _split(results: Dict[str, float]):
    overall = {k: v for k, v in results.items() if "/" not in k}
    groups: Dict[str, Dict[str, float]] = {}
    for key, value in results.items():
        if "/" in key:
            group, name = key.split("/", 1)
            groups.setdefault(group, {})[name] = value
    return overall, groups


def write_report(results: Dict[str, float], out_dir: str) -> None:
    """Write ``metrics.json`` (flat) and ``metrics.csv`` (a row per subset, then ``all``)."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    overall, groups = _split(results)
    names = sorted(k for k in overall if k != "num_samples")
    with open(os.path.join(out_dir, "metrics.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["subset"] + names)
        for group, values in sorted(groups.items()):
            writer.writerow([group] + [values.get(n, "") for n in names])
        writer.writerow(["all"] + [overall[n] for n in names])


def format_table(results: Dict[str, float]) -> str:
    """A fixed-width table: one row per subset and an ``all`` row."""
    overall, groups = _split(results)
    names = sorted(k for k in overall if k != "num_samples")
    rows = [(g, v) for g, v in sorted(groups.items())] + [("all", overall)]
    width = max([len("subset")] + [len(g) for g, _ in rows])
    lines = ["  ".join(["subset".ljust(width)] + [n.rjust(10) for n in names])]
    for group, values in rows:
        lines.append("  ".join([group.ljust(width)] + [f"{values[n]:10.4f}" if n in values else " " * 10 for n in names]))
    if "num_samples" in overall:
        lines.append(f"({int(overall['num_samples'])} samples)")
    return "\n".join(lines)
