"""benchmarks/run_all.py writes one Markdown row per (model, mode, size, batch) and the summary beside the official."""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", os.path.join(ROOT, "benchmarks", "run_all.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_run_all_quick_table(tmp_path):
    out = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "run_all.py"), "--quick", "--models",
                           "csa", "rainnet", "--modes", "eager", "paddle_inference", "gen_step", "--sizes", "256",
                           "--output", str(out)],
                          capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| csa") or line.startswith("| rainnet")]
    assert [r.split("|")[3].strip() for r in rows] == ["eager", "paddle_inference", "gen_step"] * 2
    for row in rows:
        latency, throughput, rss = (float(c) for c in row.split("|")[6:9])
        assert latency > 0 and throughput > 0 and rss > 100


def test_summary_takes_the_fastest_engine_and_the_official_ratio(monkeypatch):
    run_all = _run_all()
    monkeypatch.setattr(run_all, "OFFICIAL_HERE_MS", {("rainnet", "forward", 256, 1): 300.0,
                                                      ("rainnet", "gen_step", 256, 1): 1000.0})
    common = {"model": "rainnet", "config": "c.yml", "size": 256, "batch": 1, "threads": 2, "mkl_cpu_type": "",
              "images_per_s": 1.0, "peak_rss_mb": 500.0}
    records = [{**common, "mode": "eager", "median_ms": 900.0},
               {**common, "mode": "paddle_inference", "median_ms": 250.0, "build_s": 3.0},
               {**common, "mode": "onnx", "median_ms": 150.0, "build_s": 4.0},
               {**common, "mode": "gen_step", "median_ms": 2000.0, "mkl_cpu_type": "5"},
               {"model": "csa", "mode": "onnx", "config": "", "error": "failed (exit 1): no ONNX"}]
    text = run_all.table(records, quick=False, command="python benchmarks/run_all.py")
    assert "| rainnet | 256² | 900 | onnx | 150 | 300 | 2.00 | 128 | 0.85 |" in text
    assert "| rainnet | gen_step | 256² | 1 | 2000 | 1000 | 0.50 | 530 | 0.27 | — | 5 |" in text
    assert "failed (exit 1): no ONNX" in text
