"""The numpy TensorFlow checkpoint reader against a checkpoint written by real TensorFlow."""
import os
import shutil

import numpy as np
import pytest

from ppinpaint.convert.tf_checkpoint import TFCheckpointError, latest_checkpoint, read_tf_checkpoint

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "convert")
CKPT = os.path.join(DATA, "tf_ckpt")
PREFIX = os.path.join(CKPT, "model.ckpt-7")


SHARDED = os.path.join(DATA, "tf_sharded", "model")  # TF2 object checkpoint, 6 shards, sliced variables


@pytest.mark.parametrize("prefix,tag", [(PREFIX, ""), (SHARDED, "sharded:")])
def test_values_equal_what_tensorflow_reads(prefix, tag):
    got = read_tf_checkpoint(prefix)
    z = np.load(os.path.join(DATA, "tf_expected.npz"))
    want = {k[len(tag):]: z[k] for k in z.files if k.startswith("sharded:") == bool(tag)}
    assert set(got) == set(want)
    for name, expected in want.items():
        value = got[name].astype(bytes) if got[name].dtype == object else got[name]
        assert value.dtype == expected.dtype and value.shape == expected.shape, name
        np.testing.assert_array_equal(value, expected, err_msg=name)


def test_layouts_and_dtypes_as_stored():
    got = read_tf_checkpoint(PREFIX)
    # TF layouts are kept as stored (HWIO kernels); converters transpose.
    assert got["inpaint_net/conv1/kernel"].shape == (5, 5, 3, 4)
    assert got["bf16"].dtype == np.float32 and got["half"].dtype == np.float16
    assert list(got["names"]) == [b"snap", b"deepfill"]
    assert got["partitioned"].shape == (7, 3)  # three row slices put back together
    sharded = read_tf_checkpoint(SHARDED)
    for i in range(4):  # each cut into slices across shards
        np.testing.assert_array_equal(sharded[f"w{i}/.ATTRIBUTES/VARIABLE_VALUE"],
                                      np.arange(32, dtype=np.float32).reshape(16, 2) + 100 * i)


def test_latest_checkpoint_of_a_folder(tmp_path):
    assert latest_checkpoint(CKPT) == PREFIX
    # Without the 'checkpoint' state file, a single index is enough; two are ambiguous.
    for name in os.listdir(CKPT):
        if name != "checkpoint":
            shutil.copy(os.path.join(CKPT, name), tmp_path / name)
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt-7")
    shutil.copy(tmp_path / "model.ckpt-7.index", tmp_path / "model.ckpt-8.index")
    with pytest.raises(TFCheckpointError, match="2 checkpoints"):
        latest_checkpoint(str(tmp_path))


def copy_with(tmp_path, name, transform):
    for other in os.listdir(CKPT):
        shutil.copy(os.path.join(CKPT, other), tmp_path / other)
    path = tmp_path / name
    path.write_bytes(transform(path.read_bytes()))
    return str(tmp_path / "model.ckpt-7")


@pytest.mark.parametrize("name,transform,message", [
    ("model.ckpt-7.index", lambda b: b[:-1], "bad table magic"),
    ("model.ckpt-7.index", lambda b: b[:30], "too short"),
    ("model.ckpt-7.data-00000-of-00001", lambda b: b[:-5], r"data-00000-of-00001 ends inside partitioned\[5:7, 0:3\]"),
    ("model.ckpt-7.data-00000-of-00001", lambda b: b"", "ends inside"),
])
def test_truncated_files_are_named(tmp_path, name, transform, message):
    prefix = copy_with(tmp_path, name, transform)
    with pytest.raises(TFCheckpointError, match=f"{prefix}: .*{message}"):
        read_tf_checkpoint(prefix)


def test_corrupt_index_never_leaks_another_error(tmp_path):
    raw = open(PREFIX + ".index", "rb").read()
    prefix = copy_with(tmp_path, "model.ckpt-7.index", lambda b: b)
    rng = np.random.default_rng(0)
    for _ in range(200):
        damaged = bytearray(raw)
        damaged[rng.integers(len(raw))] ^= 1 << int(rng.integers(8))
        (tmp_path / "model.ckpt-7.index").write_bytes(bytes(damaged))
        try:
            read_tf_checkpoint(prefix)
        except TFCheckpointError as e:
            assert str(e).startswith(f"TensorFlow checkpoint {prefix}: ")


def test_missing_shard_of_a_sliced_variable(tmp_path):
    for name in os.listdir(os.path.dirname(SHARDED)):
        if name != "model.data-00002-of-00006":
            shutil.copy(os.path.join(os.path.dirname(SHARDED), name), tmp_path / name)
    with pytest.raises(TFCheckpointError, match="model.data-00002-of-00006"):
        read_tf_checkpoint(str(tmp_path / "model"))


def test_missing_checkpoint_and_missing_shard(tmp_path):
    with pytest.raises(TFCheckpointError, match="no such file"):
        read_tf_checkpoint(str(tmp_path / "model.ckpt-1"))
    prefix = copy_with(tmp_path, "checkpoint", lambda b: b)
    os.remove(prefix + ".data-00000-of-00001")
    with pytest.raises(TFCheckpointError, match="data-00000-of-00001"):
        read_tf_checkpoint(prefix)
