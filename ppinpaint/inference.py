"""Predictors for exported models (Paddle Inference, onnxruntime, OpenVINO) with the eager model's ``infer`` interface.

All expose ``infer(image, mask)`` on [0,1] NCHW batches plus ``task``, ``size_multiple`` and
``min_size`` read from ``deploy.yml``, so ``ppinpaint.predict.predict_array`` / ``predict_paths``
(the one implementation of the input rules, padding and paste-back) run them unchanged.
"""
import importlib
import os
import re
from typing import Dict, Optional

import numpy as np

from .export import ONNX_FILE, ExportError, model_files, read_deploy
from .utils.runtime import thread_count


def _as_array(x) -> np.ndarray:
    """A float32 C-contiguous numpy array from a paddle Tensor or an array."""
    return np.ascontiguousarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float32)


def _feeds(names, image: np.ndarray, mask: np.ndarray) -> Dict[str, np.ndarray]:
    """Inputs by the names export gave them (``image``, ``mask``), else in that order."""
    if set(names) == {"image", "mask"}:
        return {"image": image, "mask": mask}
    return dict(zip(names, (image, mask)))


class _ExportedPredictor:
    """What the predictors share: the deploy.yml convention and its checks."""

    def __init__(self, model_dir: str) -> None:
        self.model_dir = model_dir
        self.deploy: Dict[str, object] = read_deploy(model_dir)
        self.task = str(self.deploy["task"])
        self.size_multiple = int(self.deploy["size_multiple"])
        self.min_size = int(self.deploy["min_size"])
        self.fixed_size = self.deploy.get("fixed_size")

    def _check(self, image: np.ndarray, mask: np.ndarray) -> None:
        if self.fixed_size and list(image.shape[2:]) != list(self.fixed_size):
            raise ValueError(f"{self.model_dir} was exported for {self.fixed_size[0]}x{self.fixed_size[1]} inputs "
                             f"only, got {image.shape[2]}x{image.shape[3]}; re-export without --size")
        if not self.deploy.get("dynamic_batch", True) and image.shape[0] != self.deploy["inputs"]["image"]["shape"][0]:
            raise ValueError(f"{self.model_dir} was exported for batch {self.deploy['inputs']['image']['shape'][0]}")

    def infer(self, image, mask) -> np.ndarray:
        """[N,3,H,W] image in [0,1] + [N,1,H,W] mask in {0,1} -> [N,3,H,W] result in [0,1] (numpy)."""
        image, mask = _as_array(image), _as_array(mask)
        self._check(image, mask)
        return self._run(image, mask)

    def _run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError


# Paddle 3.3.1's PIR oneDNN pass that fuses an activation into the convolution before it dies with a
# segmentation fault on conv -> leaky_relu (FusedConv2dOp::Build reads a float attribute the match does not
# carry; relu, tanh, sigmoid, elu, gelu, swish, hardswish, relu6 and clip fuse fine). Our nets trace leaky ReLU
# as maximum (ppinpaint.modeling.layers.portable); a graph that still holds the op runs without this one pass.
CRASHING_FUSE_PASS = "conv_activation_onednn_fuse_pass"
_LEAKY_RELU_OP = re.compile(rb'"[0-9]+\.leaky_relu"')  # an op name in a PIR program (.json): "<dialect>.leaky_relu"


def _has_leaky_relu(program: str) -> bool:
    """True when a PIR program file holds a leaky_relu op (legacy .pdmodel programs run on the old executor)."""
    if not program.endswith(".json"):
        return False
    with open(program, "rb") as f:
        return bool(_LEAKY_RELU_OP.search(f.read()))


def default_device() -> str:
    """``gpu`` when this Paddle build has CUDA and sees a GPU, else ``cpu``."""
    import paddle

    if paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0:
        return "gpu"
    return "cpu"


class PaddlePredictor(_ExportedPredictor):
    """An export folder run by ``paddle.inference`` (CPU with oneDNN by default, or GPU)."""

    def __init__(self, model_dir: str, device: Optional[str] = None, use_mkldnn: Optional[bool] = None,
                 cpu_threads: Optional[int] = None, gpu_memory_mb: int = 512) -> None:
        super().__init__(model_dir)
        from paddle import inference

        files = model_files(model_dir)
        config = inference.Config(files["program"], files["params"])
        self.device = device or default_device()
        if use_mkldnn is None:  # on unless export recorded that this graph crashes under oneDNN
            use_mkldnn = bool(self.deploy.get("onednn", True))
        if self.device == "gpu":
            config.enable_use_gpu(gpu_memory_mb, 0)
        else:
            config.disable_gpu()
            self.cpu_threads = thread_count(cpu_threads)
            config.set_cpu_math_library_num_threads(self.cpu_threads)
            (config.enable_mkldnn if use_mkldnn else config.disable_mkldnn)()
            if use_mkldnn and _has_leaky_relu(files["program"]):
                config.delete_pass(CRASHING_FUSE_PASS)
        self.use_mkldnn = bool(use_mkldnn) and self.device == "cpu"
        config.disable_glog_info()
        try:
            self.predictor = inference.create_predictor(config)
        except (RuntimeError, ValueError, OSError) as e:  # Paddle's parse errors of a damaged file
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ExportError(f"cannot load the exported model {files['program']} + {files['params']}: {reason} "
                              "(damaged, or written by another Paddle version); re-export with tools/export.py") from None
        self.input_names = self.predictor.get_input_names()
        self.output_name = self.predictor.get_output_names()[0]

    def _run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        for name, array in _feeds(self.input_names, image, mask).items():
            handle = self.predictor.get_input_handle(name)
            handle.reshape(list(array.shape))
            handle.copy_from_cpu(array)
        self.predictor.run()
        return self.predictor.get_output_handle(self.output_name).copy_to_cpu()


class _OnnxFilePredictor(_ExportedPredictor):
    """A predictor of the export folder's ``model.onnx`` by an optional runtime (``runtime``, a module name)."""

    runtime = ""
    backend = ""

    def __init__(self, model_dir: str, cpu_threads: Optional[int] = None) -> None:
        super().__init__(model_dir)
        try:
            importlib.import_module(self.runtime)
        except ImportError:
            raise ExportError(f"the {self.backend} backend needs {self.runtime}, which is not installed: "
                              f"pip install {self.runtime} (or use the paddle backend)") from None
        self.path = os.path.join(model_dir, ONNX_FILE)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"no {ONNX_FILE} in {model_dir} (export with --onnx)")
        self.cpu_threads = thread_count(cpu_threads)

    def _damaged(self, error: Exception) -> ExportError:
        """The runtime's parse error as one line; its messages end with the reason after C++ check lines."""
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        reason = (lines[-1] if lines else type(error).__name__)[:300]
        return ExportError(f"{self.backend} cannot load {self.path}: {reason} (damaged? re-export with --onnx)")


class OnnxPredictor(_OnnxFilePredictor):
    """An export folder's ``model.onnx`` run by onnxruntime (CPU)."""

    runtime, backend = "onnxruntime", "onnx"

    def __init__(self, model_dir: str, cpu_threads: Optional[int] = None) -> None:
        super().__init__(model_dir, cpu_threads)
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.cpu_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # its unused-initializer notes are noise
        try:
            self.session = onnxruntime.InferenceSession(self.path, options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime's errors (InvalidProtobuf, Fail …) derive from Exception only
            raise self._damaged(e) from None
        self.input_names = [i.name for i in self.session.get_inputs()]

    def _run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, _feeds(self.input_names, image, mask))[0]


class OpenVinoPredictor(_OnnxFilePredictor):
    """An export folder's ``model.onnx`` compiled by OpenVINO for the CPU, in float32, tuned for latency.

    ``cache_dir``: where OpenVINO keeps the compiled model, so that a later predictor on the same file
    skips compiling (``ppinpaint.compiled`` passes one inside its cache folder; None: no cache).
    """

    runtime, backend = "openvino", "openvino"

    def __init__(self, model_dir: str, cpu_threads: Optional[int] = None, cache_dir: Optional[str] = None) -> None:
        super().__init__(model_dir, cpu_threads)
        import openvino
        import openvino.frontend

        properties = {
            "INFERENCE_NUM_THREADS": self.cpu_threads,
            # OpenVINO picks bf16 (or f16) by default on CPUs that have it: the 1e-4 agreement needs f32.
            "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        if cache_dir:
            properties["CACHE_DIR"] = cache_dir
        frontend = openvino.frontend.FrontEndManager().load_by_framework("onnx")
        try:
            # The ONNX frontend by name: OpenVINO's own reader would try every frontend on a damaged file
            # (TensorFlow's logs parse errors to stderr) before failing.
            graph = frontend.convert(frontend.load(self.path))
            for node in graph.get_ordered_ops():
                if node.get_type_name() == "Divide":
                    # Kept a division: OpenVINO otherwise multiplies by the reciprocal, which rounds
                    # differently, e.g. DeepFill's float32 nearest-resize index round(13 * 53/26)
                    # becomes 27 instead of 26 and moves a row of attention patches (0.05 off).
                    node.get_rt_info()["nonconvertable_divide_0"] = True
            self.compiled = openvino.Core().compile_model(graph, "CPU", properties)
        except Exception as e:  # the frontend's failures (GeneralFailure …) derive from Exception only
            raise self._damaged(e) from None
        self.request = self.compiled.create_infer_request()
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]
        self.output = self.compiled.outputs[0]

    def _run(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # share_outputs=False (the default): the result is a copy, not the request's reused buffer.
        return self.request.infer(_feeds(self.input_names, image, mask))[self.output]


BACKENDS = {"paddle": PaddlePredictor, "onnx": OnnxPredictor, "openvino": OpenVinoPredictor}


def load_predictor(model_dir: str, backend: str = "paddle", **options) -> _ExportedPredictor:
    """The predictor of ``backend`` (``paddle``, ``onnx`` or ``openvino``) for an export folder."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
    return BACKENDS[backend](model_dir, **options)
