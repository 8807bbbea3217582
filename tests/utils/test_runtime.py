"""CPU thread settings: affinity by default, argument and environment overrides, clear errors."""
import os
import platform
import subprocess
import sys

import paddle
import pytest

from ppinpaint.utils import runtime


def test_default_is_the_affinity(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "_USER_OMP", None)
    assert runtime.thread_count() == len(os.sched_getaffinity(0)) == runtime.available_cores()


def test_paddles_own_omp_setting_is_not_the_users():
    # Importing Paddle sets OMP_NUM_THREADS=1 when it is unset; that must not become our thread count.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", runtime.THREADS_ENV)}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = ("import ppinpaint.api, paddle, os; from ppinpaint.utils import runtime; "
            "print(os.environ.get('OMP_NUM_THREADS'), runtime.thread_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, "PYTHONPATH": root},
                         timeout=300).stdout.split()
    assert out == ["1", str(runtime.available_cores())]


def test_environment_and_argument_override(monkeypatch):
    monkeypatch.setattr(runtime, "_USER_OMP", "2")
    assert runtime.thread_count() == 2
    monkeypatch.setenv(runtime.THREADS_ENV, "3")
    assert runtime.thread_count() == 3
    assert runtime.thread_count(5) == 5
    assert runtime.thread_count(0) == 3  # 0 / None: not given


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_bad_environment_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(runtime.THREADS_ENV, value)
    with pytest.raises(ValueError, match=runtime.THREADS_ENV):
        runtime.thread_count()


def test_set_threads_reports_and_describes(monkeypatch):
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    monkeypatch.setattr(runtime, "_USER_OMP", None)
    try:
        assert runtime.set_threads(1) == 1
        assert runtime.describe().startswith("CPU threads: 1 of ")
        x = paddle.ones([1, 2, 8, 8])
        assert float(paddle.nn.functional.conv2d(x, paddle.ones([1, 2, 3, 3]), padding=1)[0, 0, 4, 4]) == 18.0
        runtime.set_threads()
        assert runtime.describe().startswith(f"CPU threads: {runtime.available_cores()} of ")
    finally:
        monkeypatch.undo()
        runtime.set_threads()  # the rest of the session as configured


def test_fast_mkl_respects_the_user(monkeypatch):
    monkeypatch.setenv("MKL_DEBUG_CPU_TYPE", "4")
    assert runtime.prefer_fast_mkl() is False and os.environ["MKL_DEBUG_CPU_TYPE"] == "4"
    monkeypatch.delenv("MKL_DEBUG_CPU_TYPE")
    assert runtime.prefer_fast_mkl() is True
    assert os.environ["MKL_DEBUG_CPU_TYPE"] == runtime.mkl_cpu_type(runtime.cpu_flags())


def test_mkl_cpu_type_needs_every_avx512_flag():
    skx = {"sse4_2", "avx", "avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    assert runtime.mkl_cpu_type(skx) == "7"
    assert runtime.mkl_cpu_type(skx - {"avx512vl"}) == "5"     # e.g. Knights Landing: AVX-512F without VL
    assert runtime.mkl_cpu_type({"avx", "avx2"}) == "5"
    if platform.machine() == "x86_64" and os.path.exists("/proc/cpuinfo"):
        assert "sse2" in runtime.cpu_flags()       # every x86-64 CPU has it: the flags were read


def test_threads_option(monkeypatch):
    import argparse

    from ppinpaint.commands.common import apply_threads, threads_arg

    parser = argparse.ArgumentParser()
    threads_arg(parser)
    assert parser.parse_args([]).threads is None
    assert parser.parse_args(["--threads", "1"]).threads == 1
    for bad in ("0", "two"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--threads", bad])
    monkeypatch.delenv(runtime.THREADS_ENV, raising=False)
    try:
        apply_threads(1)
        assert os.environ[runtime.THREADS_ENV] == "1" and runtime.describe().startswith("CPU threads: 1 of ")
    finally:
        monkeypatch.undo()
        runtime.set_threads()


_REFAULTS = """
import resource, sys
import paddle
from ppinpaint.utils import runtime
changed = runtime.keep_freed_memory()
def faults_of_one_large_tensor():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    paddle.ones([64, 1024, 1024])          # 256 MiB, freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_of_one_large_tensor()
print(changed, faults_of_one_large_tensor())
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's malloc")
@pytest.mark.parametrize("user_env", [None, "MALLOC_MMAP_MAX_"])
def test_keep_freed_memory(user_env):
    # A large tensor freed and allocated again is faulted in (64k pages) again unless the heap keeps it;
    # a user's own malloc setting wins.
    env = {k: v for k, v in os.environ.items() if k not in runtime._MALLOC_ENV}
    if user_env:
        env[user_env] = "65536"
    out = subprocess.run([sys.executable, "-c", _REFAULTS], env=env, capture_output=True, text=True, check=True)
    changed, faults = out.stdout.split()
    assert changed == str(user_env is None)
    assert (int(faults) < 1000) == (user_env is None), faults
