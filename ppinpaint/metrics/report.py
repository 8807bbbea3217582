"""Evaluation reports: ``metrics.json``, ``metrics.csv``, ``per_image.csv`` and a printed table.

Result keys read ``[<run>:][<group>/]<metric>``: the run is the model (no prefix), its baseline
(``composite``, ``telea``) or the full-resolution evaluation (``full-res``, ``full-res composite``);
the group is a subset and/or ratio bin (:mod:`ppinpaint.metrics.means`), none for all images.
"""
import csv
import json
import os
import re
from typing import Dict, Iterable, List, Tuple

MODEL_RUN = "model"
_BIN = re.compile(r"^[a-z]+([0-9.]+)-[0-9.]+pct$")

Table = Dict[Tuple[str, str], Dict[str, float]]


def split_key(key: str) -> Tuple[str, str, str]:
    """``(run, group, metric)`` of a result key; run ``model`` and group ``all`` when absent."""
    run, _, rest = key.rpartition(":") if ":" in key else ("", "", key)
    group, _, metric = rest.rpartition("/")
    return run or MODEL_RUN, group or "all", metric


def _group_order(group: str) -> tuple:
    """``all``, then subsets, then bins by their lower edge, then subset x bin."""
    if group == "all":
        return (0,)
    *base, last = group.split(" ")
    match = _BIN.match(last)
    lower = float(match.group(1)) if match else -1.0
    if not base:
        return (1, 1, "", lower) if match else (1, 0, last, lower)
    return (2, 0, " ".join(base), lower)


def _table(results: Dict[str, float]) -> Tuple[Table, List[str], List[Tuple[str, str]]]:
    cells: Table = {}
    for key, value in results.items():
        run, group, metric = split_key(key)
        cells.setdefault((run, group), {})[metric] = value
    names = sorted({m for v in cells.values() for m in v} - {"num_samples"})
    runs = list(dict.fromkeys(run for run, _ in cells))
    order = sorted(cells, key=lambda rg: (runs.index(rg[0]), _group_order(rg[1])))
    return cells, names, order


def _describe(metrics: Iterable) -> Dict[str, object]:
    meta: Dict[str, object] = {}
    for m in metrics:
        if hasattr(m, "describe"):
            meta.update(m.describe())
    return meta


def write_report(results: Dict[str, float], out_dir: str, metrics: Iterable = ()) -> None:
    """Write ``metrics.json`` (flat values + the protocol of ``metrics``), ``metrics.csv`` (a row per
    run and group) and, when a metric keeps per-image rows, ``per_image.csv``."""
    metrics = list(metrics)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump({**_describe(metrics), **results}, f, indent=2, sort_keys=True)
    cells, names, order = _table(results)
    with open(os.path.join(out_dir, "metrics.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "group", "num_samples"] + names)
        for run, group in order:
            values = cells[(run, group)]
            n = values.get("num_samples", results.get("num_samples", "") if group == "all" else "")
            writer.writerow([run, group, n] + [values.get(name, "") for name in names])
    rows = [r for m in metrics if hasattr(m, "per_image") for r in m.per_image()]
    if rows:
        columns = list(dict.fromkeys(k for r in rows for k in r))
        with open(os.path.join(out_dir, "per_image.csv"), "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)


def format_table(results: Dict[str, float], metrics: Iterable = ()) -> str:
    """A fixed-width table, one row per run and group, under a line naming the protocol."""
    cells, names, order = _table(results)
    width = max([len("group")] + [len(g) for _, g in order])
    run_width = max([len("run")] + [len(r) for r, _ in order])
    lines = []
    protocol = _describe(metrics).get("protocol")
    if protocol:
        lines.append(f"protocol {protocol['name']} v{protocol['version']} ({protocol['follows']})")
    lines.append("  ".join(["run".ljust(run_width), "group".ljust(width), "n".rjust(6)] + [n.rjust(10) for n in names]))
    for run, group in order:
        values = cells[(run, group)]
        n = values.get("num_samples", results.get("num_samples") if group == "all" else None)
        count = f"{int(n):6d}" if n is not None else " " * 6
        lines.append("  ".join([run.ljust(run_width), group.ljust(width), count]
                               + [f"{values[k]:10.4f}" if k in values else " " * 10 for k in names]))
    return "\n".join(lines)
