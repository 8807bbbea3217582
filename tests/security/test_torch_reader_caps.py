"""The torch reader checks what a file claims before allocating: a small file stays cheap."""
import os
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "convert"))
from ppinpaint.convert.torch_pickle import CheckpointError, UnsafeCheckpointError, load_torch_file  # noqa: E402
from test_torch_pickle import _str, tensor_pickle, write_zip  # noqa: E402  (the hand-written pickle helpers)


def peak_bytes(fn):
    """Peak bytes numpy/Python allocated while ``fn`` ran (it is expected to raise)."""
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError) as err:
            fn()
        return tracemalloc.get_traced_memory()[1], err.value
    finally:
        tracemalloc.stop()


def test_stride_zero_tensor_does_not_allocate_its_claimed_size(tmp_path):
    # 28000 x 28000 float32 (3.1 GB) viewed from a 4-byte storage through stride 0.
    path = write_zip(tmp_path / "bomb.pt", tensor_pickle((28000, 28000), (0, 0), 0, 1),
                     np.zeros(1, np.float32).tobytes())
    peak, err = peak_bytes(lambda: load_torch_file(path))
    assert peak < 20 << 20 and "bomb.pt" in str(err) and "refused" in str(err)


def views_pickle(count, size=1000):
    """``{"w0": …, "w1": …}``: ``count`` full views of one storage (each after the first is a copy)."""
    one = tensor_pickle((size,), (1,), 0, size)
    record = one[len(b"\x80\x02}") + len(_str("w")):-len(b"s.")]  # the rebuild call of the helper's pickle
    return b"\x80\x02}" + b"".join(_str(f"w{i}") + record + b"s" for i in range(count)) + b"."


def test_repeated_views_of_one_storage_are_capped(tmp_path):
    data = np.arange(1000, dtype=np.float32).tobytes()
    ok = load_torch_file(write_zip(tmp_path / "two.pt", views_pickle(2), data))
    np.testing.assert_array_equal(ok["w1"], ok["w0"])  # a second view of a storage is fine
    with pytest.raises(CheckpointError, match="many.pt.*overlapping or repeated views"):
        load_torch_file(write_zip(tmp_path / "many.pt", views_pickle(50), data))


def test_bytearray_global_is_refused(tmp_path):
    payload = b"\x80\x02c__builtin__\nbytearray\nJ\x00\x00\x00\x40\x85R."  # bytearray(1 GiB)
    path = write_zip(tmp_path / "ba.pt", payload, b"")
    with pytest.raises(UnsafeCheckpointError, match="builtins.bytearray"):
        load_torch_file(path)


def test_zip_member_claiming_more_than_it_stores_is_refused(tmp_path):
    path = write_zip(tmp_path / "z.pt", tensor_pickle((4,), (1,), 0, 4), np.zeros(4, np.float32).tobytes())
    raw = bytearray(open(path, "rb").read())
    # Rewrite the storage member's uncompressed size (local header and central directory) to 4 GB.
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("archive/data/0")
    for offset in (info.header_offset + 22, raw.rfind(b"PK\x01\x02", 0, len(raw)) + 24):
        raw[offset:offset + 4] = (0xFFFFFFF0).to_bytes(4, "little")
    (tmp_path / "z2.pt").write_bytes(bytes(raw))
    peak, err = peak_bytes(lambda: load_torch_file(str(tmp_path / "z2.pt")))
    assert peak < 20 << 20 and "z2.pt" in str(err)
