"""The restricted torch checkpoint reader against files written by real torch (no torch needed here)."""
import argparse
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from ppinpaint.convert.torch_pickle import (LEGACY_MAGIC, LEGACY_PROTOCOL, CheckpointError, UnsafeCheckpointError,
                                            load_torch_file)

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "convert")
FILES = ("zip_checkpoint.pt", "legacy_checkpoint.pth", "tar_checkpoint.pth.tar")


def lookup(obj, path):
    """The value at ``a/b/0`` in nested dicts (integer keys as make_torch_fixtures.py wrote them)."""
    for part in path.split("/"):
        obj = obj[part] if part in obj else obj[int(part)]
    return obj


def expected(name):
    z = np.load(os.path.join(DATA, "torch_expected.npz"))
    return {k.split(":", 1)[1]: z[k] for k in z.files if k.startswith(name + ":")}


@pytest.mark.parametrize("name", FILES)
def test_values_equal_what_torch_loads(name):
    loaded = load_torch_file(os.path.join(DATA, name))
    want = expected(name)
    state = loaded["state_dict"] if "state_dict" in loaded else loaded
    prefix = "state_dict/" if state is not loaded else ""
    depth = prefix.count("/")
    assert {prefix + k for k in state} == {k for k in want if k.startswith(prefix) and k.count("/") == depth}
    for key, value in want.items():
        got = lookup(loaded, key)
        assert isinstance(got, np.ndarray) and got.dtype == value.dtype and got.shape == value.shape, key
        np.testing.assert_array_equal(got, value, err_msg=key)
        assert got.flags.c_contiguous and got.flags.writeable, key


@pytest.mark.parametrize("name", FILES[:2])
def test_metadata_and_layouts(name):
    ckpt = load_torch_file(os.path.join(DATA, name))
    assert ckpt["epoch"] == 12 and ckpt["arch"] == "generator" and ckpt["lr"] == 2e-4
    assert ckpt["best_psnr"] == 27.5 and ckpt["best_psnr"].dtype == np.float64
    assert ckpt["tags"] == {"paper", "port"} and ckpt["note"] is None and ckpt["raw"] == b"\x00\xff"
    assert ckpt["args"].name == "run" and ckpt["args"].gpu_ids == [0]
    assert ckpt["optimizer"]["param_groups"][0]["betas"] == (0.5, 0.999)
    sd = ckpt["state_dict"]
    assert list(sd)[:2] == ["conv.weight", "conv.bias"]  # OrderedDict order kept
    full = sd["shared.full"]
    np.testing.assert_array_equal(sd["shared.transposed"], full.T)
    np.testing.assert_array_equal(sd["shared.offset_rows"], full[1:3])
    np.testing.assert_array_equal(sd["shared.every_other"], full[:, 1::2])
    before = sd["shared.transposed"][0, 0]
    full[0, 0] += 1  # views of one storage come back as independent arrays
    assert sd["shared.transposed"][0, 0] == before
    assert sd["bf16"].dtype == np.float32 and sd["half"].dtype == np.float16
    assert sd["bn.num_batches_tracked"].shape == () and sd["bn.num_batches_tracked"] == 7
    np.testing.assert_array_equal(sd["bytes"], np.arange(250, 256, dtype=np.uint8))
    assert sd["empty"].shape == (0, 3)


def test_legacy_gpu_storages_load_on_cpu(tmp_path):
    # Checkpoints saved on a GPU name torch.cuda.FloatStorage; the bytes are the same.
    raw = open(os.path.join(DATA, "legacy_checkpoint.pth"), "rb").read()
    assert raw.count(b"ctorch\nFloatStorage\n") == 1
    path = tmp_path / "gpu.pth"
    path.write_bytes(raw.replace(b"ctorch\nFloatStorage\n", b"ctorch.cuda\nFloatStorage\n"))
    got = load_torch_file(str(path))["state_dict"]
    np.testing.assert_array_equal(got["conv.weight"], expected("legacy_checkpoint.pth")["state_dict/conv.weight"])


# ---- hand-written pickles: malicious files and corrupt tensor records --------------------------

def _str(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def _int(value):
    return b"J" + struct.pack("<i", value)


def _tuple(items):
    return b"(" + b"".join(items) + b"t"


def tensor_pickle(size, stride, offset, numel, view=None):
    """A protocol-2 pickle ``{"w": _rebuild_tensor_v2(storage '0', offset, size, stride, …)}``.

    ``view=(key, offset, numel)`` adds the storage-view record of legacy files from torch < 0.4.
    """
    extra = [] if view is None else [_tuple([_str(view[0]), _int(view[1]), _int(view[2])])]
    pid = _tuple([_str("storage"), b"ctorch\nFloatStorage\n", _str("0"), _str("cpu"), _int(numel)] + extra) + b"Q"
    args = _tuple([pid, _int(offset), _tuple(map(_int, size)), _tuple(map(_int, stride)), b"\x89",
                   b"ccollections\nOrderedDict\n)R"])
    return b"\x80\x02}" + _str("w") + b"ctorch._utils\n_rebuild_tensor_v2\n" + args + b"Rs."


def write_zip(path, data_pkl, storage=b""):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/data/0", storage)
    return str(path)


def write_legacy(path, obj_pickle, storage=None):
    head = b"".join(pickle.dumps(x, protocol=2) for x in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}))
    tail = b"" if storage is None else (pickle.dumps(["0"], protocol=2) + struct.pack("<q", storage.size)
                                        + storage.tobytes())
    path.write_bytes(head + obj_pickle + tail)
    return str(path)


def test_legacy_storage_view(tmp_path):
    # A tensor on elements 2..5 of storage '0', seen through view '1'; the tensor's offset is in the view.
    data = tensor_pickle((3,), (1,), 1, 8, view=("1", 2, 4))
    got = load_torch_file(write_legacy(tmp_path / "view.pth", data, np.arange(8, dtype=np.float32)))["w"]
    np.testing.assert_array_equal(got, [3, 4, 5])
    with pytest.raises(CheckpointError, match="runs past its storage"):  # the view bounds the tensor
        load_torch_file(write_legacy(tmp_path / "v2.pth", tensor_pickle((3,), (1,), 2, 8, view=("1", 2, 4)),
                                     np.arange(8, dtype=np.float32)))


@pytest.mark.parametrize("size,stride,offset", [((4, 4), (4, 1), 0), ((3,), (1,), 10), ((2, 3), (1, 6), 0)])
def test_out_of_bounds_views_are_refused(tmp_path, size, stride, offset):
    path = write_zip(tmp_path / "oob.pt", tensor_pickle(size, stride, offset, 12),
                     np.zeros(12, np.float32).tobytes())
    with pytest.raises(CheckpointError, match="runs past its storage"):
        load_torch_file(path)


def test_strided_view_from_hand_written_file(tmp_path):
    path = write_zip(tmp_path / "v.pt", tensor_pickle((2, 3), (1, 4), 2, 12), np.arange(12, dtype=np.float32).tobytes())
    # element [i, j] is storage[2 + i + 4 j]
    np.testing.assert_array_equal(load_torch_file(path)["w"], [[2, 6, 10], [3, 7, 11]])


def test_short_storage_record_and_bad_layout(tmp_path):
    short = write_zip(tmp_path / "s.pt", tensor_pickle((3,), (1,), 0, 12), np.zeros(3, np.float32).tobytes())
    with pytest.raises(CheckpointError, match="needs 48"):
        load_torch_file(short)
    negative = write_zip(tmp_path / "n.pt", tensor_pickle((-1,), (1,), 0, 12), np.zeros(12, np.float32).tobytes())
    with pytest.raises(CheckpointError, match="bad tensor size"):
        load_torch_file(negative)


class Touch:
    """Pickles as ``os.system('touch <marker>')``: what a malicious checkpoint does on plain pickle.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class Exec(Touch):
    """Pickles as ``exec("open(<marker>, 'w')")`` through builtins."""

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def malicious_payloads(marker):
    return {
        "system": pickle.dumps({"conv.weight": Touch(marker)}, protocol=2),
        "exec": pickle.dumps({"conv.weight": Exec(marker)}, protocol=2),
        "inst": f"(S'touch {marker}'\nios\nsystem\n.".encode(),  # protocol 0 INST opcode
    }


def test_malicious_pickles_are_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    for kind, payload in malicious_payloads(marker).items():
        # The payload is live: plain pickle would run it.
        live = tmp_path / f"live_{kind}"
        pickle.loads(malicious_payloads(live)[kind])
        assert live.exists(), kind
        plain = tmp_path / f"{kind}_plain.pth"
        plain.write_bytes(payload)
        for path in (write_zip(tmp_path / f"{kind}.pt", payload), write_legacy(tmp_path / f"{kind}.pth", payload),
                     str(plain)):
            with pytest.raises(UnsafeCheckpointError, match=r"refusing to load global '(posix|os|builtins)\.") as err:
                load_torch_file(path)
            assert path in str(err.value)
            assert not marker.exists(), (kind, path)


@pytest.mark.parametrize("target", [
    b"cargparse\nNamespace\n",                    # the class itself: would patch argparse for the process
    b"ctorch\nfloat32\n",                          # a dtype marker shared by every load
    b"ctorch._utils\n_rebuild_tensor_v2\n",        # one of our rebuild functions
    b"cargparse\nNamespace\n)R",                   # an instance, but with a dunder attribute
])
def test_build_only_sets_plain_fields_of_plain_instances(tmp_path, target):
    key = "__class__" if target.endswith(b"R") else "x"
    data = b"\x80\x02" + target + b"}" + _str(key) + _int(1) + b"sb."
    with pytest.raises(UnsafeCheckpointError, match="refusing to set the state"):
        load_torch_file(write_legacy(tmp_path / "build.pth", data))
    assert not hasattr(argparse.Namespace, "x")


@pytest.mark.parametrize("module,name,message", [
    ("models.networks", "Generator", "not an allowed .*whole object.*state_dict"),
    ("torch.nn.modules.conv", "Conv2d", "not an allowed .*whole object.*state_dict"),
    ("torch._utils", "_rebuild_qtensor", "unsupported tensor kind"),
    ("torch", "float8_e4m3fn", "unsupported torch dtype"),
])
def test_refusals_say_why(tmp_path, module, name, message):
    data = b"\x80\x02" + f"c{module}\n{name}\n)R.".encode()
    with pytest.raises(UnsafeCheckpointError, match=f"'{module}.{name}': {message}"):
        load_torch_file(write_legacy(tmp_path / "model.pth", data))


@pytest.mark.parametrize("name", FILES)
def test_truncated_files_give_one_clear_error(tmp_path, name):
    raw = open(os.path.join(DATA, name), "rb").read()
    end = len(raw.rstrip(b"\0"))  # tar pads with zero blocks that can go without loss
    for cut in (end - 1, end * 2 // 3, end // 3, 40, 3):
        path = tmp_path / f"cut{cut}_{name}"
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=f"{path.name}.*(truncated|corrupt|not a PyTorch)"):
            load_torch_file(str(path))


@pytest.mark.parametrize("name", FILES)
def test_flipped_bits_never_leak_another_error(tmp_path, name):
    raw = open(os.path.join(DATA, name), "rb").read()
    rng = np.random.default_rng(0)
    path = tmp_path / name
    for _ in range(150):
        damaged = bytearray(raw)
        damaged[rng.integers(len(raw))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        try:
            load_torch_file(str(path))
        except CheckpointError as e:
            assert str(e).startswith(str(path))


def test_missing_and_non_checkpoint_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_torch_file(str(tmp_path / "nope.pt"))
    other = tmp_path / "weights.pt"
    other.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_torch_file(str(other))
    script = tmp_path / "script.pt"
    with zipfile.ZipFile(script, "w") as zf:
        zf.writestr("model/constants.pkl", b"")
    with pytest.raises(CheckpointError, match="TorchScript"):
        load_torch_file(str(script))
