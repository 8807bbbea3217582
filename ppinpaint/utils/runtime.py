"""Process-wide CPU settings: the math library's code path, the number of threads, the heap.

Paddle's eager CPU math runs one thread by default, and the MKL it ships picks its slow generic
code path on AMD CPUs. ``set_threads`` (run when ``ppinpaint.api`` loads, i.e. with Paddle) fixes the first,
``prefer_fast_mkl`` (run by the trainer) the second; ``thread_count`` is what Paddle Inference and
onnxruntime predictors use too, so eager and compiled runs see the same number. ``keep_freed_memory``
(run by the trainer) stops the C heap from handing large tensors' memory back to the kernel each op.
"""
import ctypes
import ctypes.util
import logging
import os
import platform
import sys
from typing import Optional

THREADS_ENV = "PPINPAINT_THREADS"

logger = logging.getLogger(__name__)
_applied: Optional[int] = None
# Importing Paddle sets OMP_NUM_THREADS=1 when it is unset, so only a value present before Paddle loaded is
# the user's (``ppinpaint`` imports this module before anything loads Paddle).
_USER_OMP: Optional[str] = None if "paddle" in sys.modules else os.environ.get("OMP_NUM_THREADS")


def available_cores() -> int:
    """How many CPUs this process may run on (its affinity, which containers and ``taskset`` narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def thread_count(requested: Optional[int] = None) -> int:
    """``requested`` if given (> 0), else ``$PPINPAINT_THREADS``, else the user's ``$OMP_NUM_THREADS``, else
    every core of the affinity. A malformed variable is a ``ValueError`` naming it.
    """
    if requested is not None and int(requested) > 0:
        return int(requested)
    for name, value in ((THREADS_ENV, os.environ.get(THREADS_ENV)), ("OMP_NUM_THREADS", _USER_OMP)):
        value = (value or "").strip()
        if value:
            try:
                n = int(value)
            except ValueError:
                n = 0
            if n <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            return n
    return available_cores()


# What MKL 2019's SKX (AVX-512) kernels execute; all five are needed for MKL_DEBUG_CPU_TYPE=7.
_AVX512_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def cpu_flags() -> set:
    """The instruction-set flags of the first CPU in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def mkl_cpu_type(flags: set) -> str:
    """``MKL_DEBUG_CPU_TYPE`` for a CPU with these flags: 7 (AVX-512 kernels) when it has them, else 5 (AVX2)."""
    return "7" if _AVX512_FLAGS <= flags else "5"


def prefer_fast_mkl() -> bool:
    """Make MKL take its widest code path on any x86 CPU, unless ``MKL_DEBUG_CPU_TYPE`` is set already.

    MKL picks its generic path on AMD CPUs; 5 forces AVX2, 7 AVX-512. Effective only before the
    process's first MKL call (MKL reads the variable then, not when Paddle loads). On this AMD EPYC
    one 64->128 4x4/2 conv on 128x128 takes 36 ms with 5 instead of 63 ms eager, and DeepFill v1's
    generator convolutions (forward + backward) take 25-40 % less CPU time with 7 than with 5.
    Training turns it on; eager inference does not, because the different rounding moves one of
    CSA's official-mode gradients past the parity tolerance (docs/speed.md).
    Returns whether this call set it.
    """
    if "MKL_DEBUG_CPU_TYPE" in os.environ:
        return False
    os.environ["MKL_DEBUG_CPU_TYPE"] = mkl_cpu_type(cpu_flags())
    return True


# glibc's mallopt parameters and the environment variables a user sets them with instead
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_MALLOC_ENV = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Serve every allocation from glibc's heap and never trim it, unless the user tuned malloc already.

    Paddle's CPU allocator takes each tensor from ``malloc``; glibc maps allocations above 32 MiB
    (at most) with ``mmap`` and unmaps them on free, so every large activation, im2col buffer and
    gradient of every step is faulted in and zeroed by the kernel again: 1.2-1.4 s of system time
    in DeepFill v1's 256^2 generator step (docs/speed.md). Kept in the heap, freed memory is reused
    by the next step. The process's resident memory then stays near its peak, which a training loop
    reaches every step anyway. Returns whether this call changed the setting (glibc only).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in _MALLOC_ENV):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    # mallopt returns 1 on success
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1))


def set_threads(requested: Optional[int] = None) -> int:
    """Set Paddle's eager CPU math threads to ``thread_count(requested)``; returns the number set."""
    global _applied
    import paddle

    n = thread_count(requested)
    if n != _applied:
        paddle.base.core.set_num_threads(n)
        _applied = n
        logger.debug("CPU threads: %d of %d available", n, available_cores())
    return n


def set_threads_or_warn() -> int:
    """``set_threads()`` at import time: a bad ``$PPINPAINT_THREADS`` warns and uses every core."""
    try:
        return set_threads()
    except ValueError as error:
        logger.warning("%s; using every available core", error)
        return set_threads(available_cores())


def describe() -> str:
    """One line for logs: the threads in use and the MKL code path."""
    n = _applied if _applied is not None else thread_count()
    return (f"CPU threads: {n} of {available_cores()} available ({THREADS_ENV}, OMP_NUM_THREADS or --threads to change), "
            f"MKL_DEBUG_CPU_TYPE={os.environ.get('MKL_DEBUG_CPU_TYPE', 'unset')}")
