"""Writes the torch checkpoint fixtures of tests/convert/test_torch_pickle.py (run once; needs torch).

The tests themselves never import torch: they read these files with our reader and compare
with ``torch_expected.npz``, the values torch itself loaded back from each file.
"""
import argparse
import collections
import io
import os
import pickle
import struct
import tarfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def checkpoint() -> dict:
    """A training-style checkpoint: state dict with awkward tensors plus metadata."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(4, 6, generator=g)                  # one storage shared by several views
    state = collections.OrderedDict()
    state["conv.weight"] = torch.nn.Parameter(torch.randn(3, 2, 3, 3, generator=g))
    state["conv.bias"] = torch.randn(3, generator=g)
    state["shared.full"] = base
    state["shared.transposed"] = base.t()                  # stride (1, 6)
    state["shared.offset_rows"] = base[1:3]                # storage offset 6
    state["shared.every_other"] = base[:, 1::2]            # offset 1, stride (6, 2)
    state["half"] = torch.randn(2, 3, generator=g).half()
    state["bf16"] = torch.randn(5, generator=g).bfloat16()
    state["double"] = torch.randn(2, 2, generator=g).double()
    state["bn.num_batches_tracked"] = torch.tensor(7)      # 0-d int64
    state["index"] = torch.arange(-3, 5, dtype=torch.int64).view(2, 4)
    state["bytes"] = torch.arange(250, 256, dtype=torch.uint8)
    state["flags"] = torch.tensor([True, False, True])
    state["empty"] = torch.zeros(0, 3)
    state["uint16"] = torch.tensor([[1, 65535], [300, 7]], dtype=torch.uint16).t()  # v3 + UntypedStorage
    state["tagged"] = torch.arange(3.0)                    # Python attributes: _rebuild_from_type_v2
    state["tagged"].note = "kept by torch, dropped by us"
    state["tagged_param"] = torch.nn.Parameter(torch.full((2,), 0.5))  # _rebuild_parameter_with_state
    state["tagged_param"].note = 1
    return {
        "epoch": 12, "arch": "generator", "best_psnr": np.float64(27.5), "lr": 2e-4,
        "state_dict": state,
        "optimizer": {"state": {0: {"step": 3, "exp_avg": torch.ones(2)}},
                      "param_groups": [{"lr": 2e-4, "betas": (0.5, 0.999), "params": [0, 1]}]},
        "args": argparse.Namespace(name="run", gpu_ids=[0]),
        "mean": np.array([[0.5, 0.25]], dtype=np.float32), "tags": {"paper", "port"}, "note": None, "raw": b"\x00\xff",
    }


def flatten(obj, prefix: str = "") -> dict:
    """Tensors and numbers of ``obj`` keyed by their path, as numpy arrays."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, f"{prefix}{k}/"))
    elif isinstance(obj, np.ndarray):
        out[prefix[:-1]] = obj
    elif isinstance(obj, torch.Tensor):
        t = obj.detach()
        out[prefix[:-1]] = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return out


def write_tar(state: dict, path: str) -> None:
    """The torch < 0.4 tar layout (torch can no longer write it), checked by torch.load reading it back."""
    storages, tensor_ids = {}, {}
    for name, t in state.items():
        storages.setdefault(t.untyped_storage().data_ptr(), t)
    skeys = {ptr: i for i, ptr in enumerate(storages)}
    sfile = io.BytesIO()
    pickle.dump(len(storages), sfile, protocol=2)
    for ptr, t in storages.items():
        pickle.dump((skeys[ptr], "cpu", getattr(torch, t.storage()._pickle_storage_type())),
                    sfile, protocol=2)
        raw = bytes(t.untyped_storage())
        sfile.write(struct.pack("<q", len(raw) // t.element_size()) + raw)
    pickle.dump([], sfile, protocol=2)  # no storage views
    tfile = io.BytesIO()
    pickle.dump(len(state), tfile, protocol=2)
    for i, (name, t) in enumerate(state.items()):
        tensor_ids[name] = i = len(storages) + i  # storages and tensors share one key space
        pickle.dump((i, skeys[t.untyped_storage().data_ptr()], torch.FloatTensor), tfile, protocol=2)
        tfile.write(struct.pack(f"<i4x{2 * t.dim() + 1}q", t.dim(), *t.shape, *t.stride(), t.storage_offset()))

    class TensorPickler(pickle.Pickler):
        def persistent_id(self, obj):
            return str(tensor_ids[id_of[id(obj)]]) if id(obj) in id_of else None

    id_of = {id(t): name for name, t in state.items()}
    pfile = io.BytesIO()
    TensorPickler(pfile, protocol=2).dump(collections.OrderedDict(state))
    with tarfile.open(path, "w:", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("sys_info", b""), ("pickle", pfile.getvalue()), ("tensors", tfile.getvalue()),
                           ("storages", sfile.getvalue())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def tiny_net() -> dict:
    """A Linear + Conv2d state dict as DataParallel saves it (``module.`` prefix), inside a training dict."""
    torch.manual_seed(1)
    net = torch.nn.Sequential(collections.OrderedDict(fc=torch.nn.Linear(4, 3), conv=torch.nn.Conv2d(2, 3, 3)))
    state = collections.OrderedDict((f"module.{k}", v) for k, v in net.state_dict().items())
    return {"state_dict": state, "epoch": 3}


def tiny_critics() -> dict:
    """Two critics' state dicts in one file, as DeepFill v1 (PyTorch) saves dis_*.pt."""
    torch.manual_seed(2)
    return {"localD": torch.nn.Linear(2, 1).state_dict(), "globalD": torch.nn.Linear(3, 1).state_dict()}


def main() -> None:
    """Write the zip, legacy and tar files and what torch loads back from each."""
    obj = checkpoint()
    expected = {}
    torch.save(obj, os.path.join(HERE, "zip_checkpoint.pt"))
    # The legacy format has no storage class for uint16: that tensor only goes into the zip file.
    legacy = dict(obj, state_dict=collections.OrderedDict((k, v) for k, v in obj["state_dict"].items()
                                                          if k != "uint16"))
    torch.save(legacy, os.path.join(HERE, "legacy_checkpoint.pth"), _use_new_zipfile_serialization=False)
    torch.save(tiny_net(), os.path.join(HERE, "tiny_net.pth"), _use_new_zipfile_serialization=False)
    torch.save(tiny_critics(), os.path.join(HERE, "tiny_critics.pt"))
    tar_state = {k: v.detach() for k, v in legacy["state_dict"].items() if v.dtype != torch.bfloat16}
    write_tar(tar_state, os.path.join(HERE, "tar_checkpoint.pth.tar"))
    names = ("zip_checkpoint.pt", "legacy_checkpoint.pth", "tar_checkpoint.pth.tar", "tiny_net.pth", "tiny_critics.pt")
    for name in names:
        loaded = torch.load(os.path.join(HERE, name), weights_only=False)
        for key, value in flatten(loaded).items():
            expected[f"{name}:{key}"] = value
    np.savez(os.path.join(HERE, "torch_expected.npz"), **expected)


if __name__ == "__main__":
    main()
