"""Static export of a model's inference graph: Paddle's ``.json`` + ``.pdiparams``, ``deploy.yml``, ONNX.

What is exported is ``BaseModel.infer_graph`` ([0,1] RGB image and {0,1} mask in, [0,1] out, NCHW),
so an exported model and ``model.infer`` compute the same function and share the pre/post-processing
of ``ppinpaint.predict`` (see ``ppinpaint.inference``).
"""
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

import numpy as np
import paddle
import yaml
from paddle import nn

MODEL_PREFIX = "model"          # <dir>/model.json + <dir>/model.pdiparams (or legacy model.pdmodel)
DEPLOY_FILE = "deploy.yml"
ONNX_FILE = "model.onnx"
ONNX_OPSET = 16                 # where the exports were tested; paddle2onnx raises it when an op needs more


class ExportError(ValueError):
    """A model or an argument that export cannot take (a user error: one line, exit code 2)."""


class InferenceGraph(nn.Layer):
    """``model.infer_graph`` as one Layer: what ``paddle.jit.save`` traces and saves."""

    def __init__(self, model) -> None:
        super().__init__()
        # Registered as sublayers so their parameters become the saved program's parameters.
        self.nets = nn.LayerDict(model.nets)
        self._model = model

    def forward(self, image: paddle.Tensor, mask: paddle.Tensor) -> paddle.Tensor:
        """[N,3,H,W] image in [0,1] + [N,1,H,W] mask (1 = hole/foreground) -> [N,3,H,W] in [0,1]."""
        return self._model.infer_graph(image, mask)


def input_specs(batch: Optional[int] = None, size: Optional[Sequence[int]] = None) -> List[paddle.static.InputSpec]:
    """The two inputs, ``None`` (dynamic) for the batch and, unless ``size`` = (H, W) is given, H and W."""
    h, w = (None, None) if size is None else (int(size[0]), int(size[1]))
    return [paddle.static.InputSpec([batch, 3, h, w], "float32", "image"),
            paddle.static.InputSpec([batch, 1, h, w], "float32", "mask")]


def deploy_info(model, batch: Optional[int] = None, size: Optional[Sequence[int]] = None,
                config: Optional[str] = None, weights: Optional[str] = None) -> Dict[str, object]:
    """The input convention an exported model expects (written as ``deploy.yml``)."""
    return {
        "model": type(model).__name__,
        "task": model.task,
        "model_file": MODEL_PREFIX + ".json",
        "params_file": MODEL_PREFIX + ".pdiparams",
        "inputs": {
            "image": {"shape": [batch or -1, 3, -1 if size is None else int(size[0]),
                                -1 if size is None else int(size[1])],
                      "dtype": "float32", "layout": "NCHW", "channel_order": "RGB", "value_range": [0.0, 1.0]},
            "mask": {"shape": [batch or -1, 1, -1 if size is None else int(size[0]),
                               -1 if size is None else int(size[1])],
                     "dtype": "float32", "values": [0.0, 1.0],
                     "polarity": "1 = hole" if model.task == "inpainting" else "1 = foreground to harmonize"},
        },
        "output": {"shape": "same as image", "value_range": [0.0, 1.0],
                   "known_pixels": "equal to the input where mask = 0"},
        # The network's own value range: the graph converts from/to [0,1] itself.
        "net_value_range": [float(v) for v in model.value_range],
        "size_multiple": int(model.size_multiple),
        "min_size": int(model.min_size),
        "dynamic_batch": batch is None,
        # The default of PaddlePredictor(use_mkldnn=None) on CPU. Every graph runs under oneDNN now;
        # DeepFill v1 folders exported before its attention was made oneDNN-safe say false.
        "onednn": True,
        "fixed_size": None if size is None else [int(size[0]), int(size[1])],
        "source": {"config": config, "weights": weights},
    }


def check_export_shape(model, batch: Optional[int], size: Optional[Sequence[int]]) -> None:
    """One clear error for a ``--batch``/``--size`` the model cannot be exported with."""
    if batch is not None and batch < 1:
        raise ExportError(f"--batch must be >= 1, got {batch}")
    if size is None:
        return
    multiple, minimum = int(model.size_multiple), int(model.min_size)
    bad = [n for n in size if n < max(minimum, 1) or n % multiple]
    if bad:
        ok = max(minimum, multiple)
        raise ExportError(f"--size {size[0]} {size[1]}: {type(model).__name__} takes sides that are multiples of "
                          f"{multiple} and at least {max(minimum, 1)} (e.g. --size {ok} {ok})")


def export_model(model, output_dir: str, batch: Optional[int] = None, size: Optional[Sequence[int]] = None,
                 config: Optional[str] = None, weights: Optional[str] = None) -> Dict[str, str]:
    """Trace ``model.infer_graph`` and write ``model.json`` + ``model.pdiparams`` + ``deploy.yml``."""
    check_export_shape(model, batch, size)
    model.eval()
    os.makedirs(output_dir, exist_ok=True)
    prefix = os.path.join(output_dir, MODEL_PREFIX)
    graph = InferenceGraph(model)
    graph.eval()
    # The nets trace their oneDNN-safe forms of leaky ReLU and nearest resizing themselves
    # (ppinpaint.modeling.layers.portable).
    static = paddle.jit.to_static(graph, input_spec=input_specs(batch, size), full_graph=True)
    paddle.jit.save(static, prefix)
    info = deploy_info(model, batch, size, config, weights)
    # FLAGS_enable_pir_api=0 makes jit.save write the legacy program format.
    info["model_file"] = os.path.basename(model_files(output_dir)["program"])
    with open(os.path.join(output_dir, DEPLOY_FILE), "w", encoding="utf-8") as f:
        yaml.safe_dump(info, f, sort_keys=False)
    return {"model": prefix + ".json", "params": prefix + ".pdiparams",
            "deploy": os.path.join(output_dir, DEPLOY_FILE)}


def read_deploy(model_dir: str) -> Dict[str, object]:
    """``deploy.yml`` of an export folder (a clear error when it is not one)."""
    path = os.path.join(model_dir, DEPLOY_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{model_dir} is not an export folder: no {DEPLOY_FILE} "
                                f"(write one with tools/export.py)")
    try:
        with open(path, encoding="utf-8") as f:
            info = yaml.safe_load(f.read(1 << 20))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ExportError(f"{path} is not valid YAML ({str(e).splitlines()[0]}); re-export with tools/export.py") from None
    if not isinstance(info, dict):
        raise ExportError(f"{path} is not a deploy.yml mapping; re-export with tools/export.py")
    problems = [f"{key} must be an integer >= 1" for key in ("size_multiple",) if not _positive_int(info.get(key))]
    problems += ["min_size must be an integer >= 0"] if not _positive_int(info.get("min_size"), 0) else []
    problems += ["task must be 'inpainting' or 'harmonization'"] if info.get("task") not in (
        "inpainting", "harmonization") else []
    fixed = info.get("fixed_size")
    if fixed is not None and not (isinstance(fixed, list) and len(fixed) == 2 and all(_positive_int(v) for v in fixed)):
        problems.append("fixed_size must be null or [H, W]")
    if problems:
        raise ExportError(f"{path}: {'; '.join(problems)}; re-export with tools/export.py")
    return info


def _positive_int(value: object, minimum: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def model_files(model_dir: str) -> Dict[str, str]:
    """The program and parameter files of an export: ``model.json`` (Paddle 3) or legacy ``model.pdmodel``."""
    params = os.path.join(model_dir, MODEL_PREFIX + ".pdiparams")
    for ext in (".json", ".pdmodel"):
        program = os.path.join(model_dir, MODEL_PREFIX + ext)
        if os.path.isfile(program):
            if not os.path.isfile(params):
                raise FileNotFoundError(f"{program} has no parameters file {params}")
            return {"program": program, "params": params}
    raise FileNotFoundError(f"no {MODEL_PREFIX}.json or {MODEL_PREFIX}.pdmodel in {model_dir}")


_CONVERT_SCRIPT = """
import sys, paddle2onnx
paddle2onnx.export(sys.argv[1], sys.argv[2], save_file=sys.argv[3], opset_version=int(sys.argv[4]),
                   enable_onnx_checker=True, verbose=False, optimize_tool="onnxoptimizer")
"""


def export_onnx(model_dir: str, opset: int = ONNX_OPSET) -> str:
    """Convert an export folder's Paddle program to ``model.onnx`` with paddle2onnx."""
    try:
        import paddle2onnx  # noqa: F401
    except ImportError:
        raise ExportError("ONNX export needs paddle2onnx, which is not installed: pip install paddle2onnx==2.1.0 "
                          "(ppinpaint's requirements.txt has it; no wheel for Python 3.13)") from None
    files = model_files(model_dir)
    save_file = os.path.join(model_dir, ONNX_FILE)
    if os.path.exists(save_file):
        os.remove(save_file)
    # A child process: paddle2onnx aborts the whole process (SIGABRT) on an operator it cannot
    # convert. optimize_tool="onnxoptimizer" ships with paddle2onnx, while the default
    # (polygraphy) pip-installs onnx_graphsurgeon at run time when it is missing.
    proc = subprocess.run([sys.executable, "-c", _CONVERT_SCRIPT, files["program"], files["params"], save_file,
                           str(opset)], capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.isfile(save_file):
        log = proc.stdout + proc.stderr
        lines = log.splitlines()
        errors = [l.strip() for l in lines if "[ERROR]" in l] or [l.strip() for l in lines if "Error:" in l]
        raise ExportError(f"paddle2onnx could not convert {files['program']}: "
                          + (errors[0] if errors else log.strip()[-500:]))
    _repair_onnx(save_file, files["program"])
    return save_file


def _repair_onnx(path: str, program: str) -> None:
    """Mend what paddle2onnx 2.1.0 gets wrong in ``path``: Loop/If body input names, misread float attributes."""
    import onnx

    model = onnx.load(path)
    renamed = _rename_body_inputs(model.graph)
    restored = _restore_misread_floats(model.graph, program)
    if not (renamed or restored):
        return
    onnx.checker.check_model(model)
    onnx.save(model, path)


# Float attributes (float64 in Paddle 3's PIR program) that paddle2onnx 2.1.0 misreads, writing whatever
# memory held instead (measured: slopes 0.2 / 0.01 / 0.05 became ~1e-11 or 2e-43; a pad value 0 became 1e-43
# in one export and 4e11 in the next). So a net calling F.leaky_relu / nn.LeakyReLU ran as a ReLU, and a
# constant F.pad padded with noise, in onnxruntime and OpenVINO, differently at each export.
_MISREAD_FLOATS = {"leaky_relu": "negative_slope", "leaky_relu_": "negative_slope", "pad3d": "pad_value"}


def _program_floats(node: object, found: Dict[str, List[float]]) -> Dict[str, List[float]]:
    """``{op: [value, ...]}`` of the ``_MISREAD_FLOATS`` of a PIR json program's ops, in program order."""
    if isinstance(node, dict):
        op = str(node.get("#", ""))[2:] if str(node.get("#", "")).startswith("1.") else ""
        if op in _MISREAD_FLOATS:
            value = [a["AT"]["D"] for a in node.get("A", []) if a.get("N") == _MISREAD_FLOATS[op]]
            found.setdefault(op, []).append(float(value[0]) if value else float("nan"))
        for value in node.values():
            _program_floats(value, found)
    elif isinstance(node, list):
        for value in node:
            _program_floats(value, found)
    return found


def _restore_misread_floats(graph, program: str) -> bool:
    """Write each ``_MISREAD_FLOATS`` value of the program into its ONNX node (LeakyRelu ``alpha``, a constant
    Pad's value); True when there were any. paddle2onnx names a node ``p2o.pd_op.<op>.<n>.0`` after the n-th
    such op of the program, which is how they are matched."""
    import onnx

    targets = []
    for owner, node in _graph_nodes(graph):
        match = re.fullmatch(r"p2o\.pd_op\.(\w+?)\.(\d+)\.0", node.output[0]) if node.output else None
        if match and match.group(1) in _MISREAD_FLOATS and node.op_type in ("LeakyRelu", "Pad"):
            targets.append((owner, node, match.group(1), int(match.group(2))))
    if not targets or not program.endswith(".json"):
        return False
    with open(program, encoding="utf-8") as f:
        values = _program_floats(json.load(f), {})
    for owner, node, op, n in targets:
        if n >= len(values.get(op, [])):
            raise ExportError(f"paddle2onnx wrote a {node.op_type} ({node.output[0]}) that matches no {op} of "
                              f"{program}: its {_MISREAD_FLOATS[op]} cannot be restored (paddle2onnx 2.1.0 "
                              f"writes it wrong)")
        value = values[op][n]
        if node.op_type == "LeakyRelu":
            for old in [a for a in node.attribute if a.name == "alpha"]:
                node.attribute.remove(old)
            node.attribute.append(onnx.helper.make_attribute("alpha", value))
            continue
        mode = next((a.s.decode() for a in node.attribute if a.name == "mode"), "constant")
        if mode != "constant":
            continue
        # A Constant of its own, placed before the Pad (the misread one may feed other nodes), in its dtype.
        misread = [c.attribute[0].t for c in owner.node if c.op_type == "Constant" and len(node.input) > 2
                   and list(c.output) == [node.input[2]] and c.attribute and c.attribute[0].name == "value"]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(misread[0].data_type) if misread else np.float32
        name = node.output[0] + ".pad_value"
        owner.node.insert(list(owner.node).index(node), onnx.helper.make_node(
            "Constant", [], [name], value=onnx.numpy_helper.from_array(np.array(value, dtype))))
        while len(node.input) < 3:
            node.input.append("")
        node.input[2] = name
    return True


def _graph_nodes(graph) -> List[tuple]:
    """(the graph holding it, node) for every node of ``graph`` and of every body graph inside it, depth first."""
    import onnx

    nodes = []
    for node in list(graph.node):
        nodes.append((graph, node))
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                nodes += _graph_nodes(attr.g)
    return nodes


def _rename_body_inputs(graph) -> bool:
    """Rename the inputs of the bodies of ``graph``'s nodes and of theirs (``_graph_nodes``); True when there
    were any."""
    import onnx

    changed = False
    for _, node in _graph_nodes(graph):
        for attr in node.attribute:
            if attr.type != onnx.AttributeProto.GRAPH:
                continue
            body, renames = attr.g, {}
            for i, value in enumerate(body.input):
                renames[value.name] = value.name = f"{node.name}.body_input.{i}"
            for inner in body.node:
                inner.input[:] = [renames.get(name, name) for name in inner.input]
            for value in body.output:
                if value.name in renames:   # an input passed straight through keeps its output name
                    body.node.append(onnx.helper.make_node("Identity", [renames[value.name]], [value.name]))
            changed = True
    return changed
