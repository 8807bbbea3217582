"""Paddle's chatter that says nothing about the user's run, filtered at our entry points (not in the library)."""
import os
import warnings

# (message regex, category). Each is printed by Paddle on every run whatever the user does;
# any other warning, Paddle's included, still reaches the user.
NOISE = (
    # paddle.utils.cpp_extension, at `import paddle`: only matters when compiling custom C++ ops.
    (r"No ccache found", UserWarning),
    # paddle.pir.math_op_patch, once per traced op that Paddle itself asks for .place: export only traces.
    (r"Tensor do not have 'place' interface for pir graph mode", UserWarning),
    # paddle.nn BatchNorm, on every forward in training mode: it restates the default (running statistics
    # are tracked), as torch does without saying so.
    (r"When training, we now always track global mean and variance", UserWarning),
)


def quiet_paddle() -> None:
    """Ignore the warnings in :data:`NOISE`; call before Paddle is imported."""
    for message, category in NOISE:
        warnings.filterwarnings("ignore", message=message, category=category)


def quiet_glog_warnings() -> None:
    """Paddle's C++ (glog) warnings off unless ``GLOG_minloglevel`` is set; errors still print.

    For export, where tracing logs "Paddle static graph(PIR) not support input out tensor" from
    Paddle's own ops. Takes effect only when called before Paddle is imported.
    """
    os.environ.setdefault("GLOG_minloglevel", "2")
