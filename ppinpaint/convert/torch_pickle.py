"""Read PyTorch ``.pt/.pth/.pth.tar`` checkpoints into numpy without torch, and safely.

``torch.save`` output is a pickle whose tensors are ``torch._utils._rebuild_tensor_v2(storage,
offset, size, stride, …)`` calls on storages kept outside the pickle. A plain ``pickle.load``
would import and call any global the file names (``os.system`` included), so every global
goes through :data:`SAFE_GLOBALS`: the rebuild functions and storage types are answered by
our own numpy code here (no torch function ever runs), plus a few harmless containers. Any
other global stops loading with :class:`UnsafeCheckpointError` naming it, before it is called.

Three container formats, as ``torch.load`` reads them:

* zip (torch >= 1.6): ``<name>/data.pkl`` and one record ``<name>/data/<key>`` per storage;
* legacy (torch 0.4-1.5, ``_use_new_zipfile_serialization=False``): magic number, protocol,
  sys-info and object pickles, the list of storage keys, then each storage as an int64 element
  count and its raw little-endian bytes;
* tar (torch < 0.4): members ``storages``, ``tensors`` and ``pickle``.
"""
import argparse
import io
import math
import os
import pickle
import struct
import tarfile
import zipfile
from typing import Any, BinaryIO, Callable, Dict, Optional

import numpy as np

from ..utils.safe_pickle import (PickleFormatError, RestrictedUnpickler, UnsafePickleError, as_shape,
                                 numpy_globals)

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch/serialization.py MAGIC_NUMBER
LEGACY_PROTOCOL = 1001


class CheckpointError(PickleFormatError):
    """The file is not a readable PyTorch checkpoint; the message names the file."""


class UnsafeCheckpointError(CheckpointError, UnsafePickleError):
    """The checkpoint asks for a global outside the allow-list (it could run code)."""


# torch dtype name -> numpy dtype of the raw storage bytes. bfloat16 has no numpy dtype: it is
# read as uint16 and widened to float32 (its bits are the top half of a float32).
_DTYPES = {
    "float64": "f8", "float32": "f4", "float16": "f2", "bfloat16": "bf16",
    "int64": "i8", "int32": "i4", "int16": "i2", "int8": "i1",
    "uint64": "u8", "uint32": "u4", "uint16": "u2", "uint8": "u1", "bool": "?",
    "complex64": "c8", "complex128": "c16",
}
_DTYPE_ALIASES = {"double": "float64", "float": "float32", "half": "float16", "long": "int64", "int": "int32",
                  "short": "int16", "cfloat": "complex64", "cdouble": "complex128"}
# Legacy storage class -> dtype name (torch.FloatStorage …, also torch.cuda.* from GPU saves).
_STORAGE_CLASSES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16",
    "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
_TENSOR_CLASSES = {name.replace("Storage", "Tensor") for name in _STORAGE_CLASSES if name != "UntypedStorage"}


class TorchDType:
    """Stand-in for ``torch.float32`` & co.: the name and how its bytes are read."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.raw = np.dtype("u2" if _DTYPES[name] == "bf16" else _DTYPES[name])

    def finish(self, array: np.ndarray) -> np.ndarray:
        """Turn raw storage values into the numpy array of this dtype."""
        if self.name == "bfloat16":
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class StorageType:
    """Stand-in for a storage class such as ``torch.FloatStorage``."""

    def __init__(self, dtype: TorchDType) -> None:
        self.dtype = dtype


class Storage:
    """A flat storage: dtype and (once read) a 1-D array of raw values."""

    def __init__(self, dtype: TorchDType, data: Optional[np.ndarray]) -> None:
        self.dtype = dtype
        self.data = data
        self.lent = False  # its buffer already backs a returned array; later tensors get copies
        self.root = self  # the storage whose bytes are in the file (views share their root's budget)
        self.copied = 0  # bytes of tensors copied out of this root so far

    def view(self, offset: int, length: int) -> "Storage":
        """A storage view (legacy and tar formats); it aliases this buffer, so neither lends it out."""
        self.lent = True
        view = Storage(self.dtype, None if self.data is None else self.data[offset:offset + length])
        view.lent = True
        view.root = self.root
        return view

    def charge(self, nbytes: int) -> None:
        """Count a copy of ``nbytes`` against the root's budget: the tensors made from a storage may
        not cost more than :data:`COPY_BUDGET` times the bytes the file holds for it."""
        root = self.root
        root.copied += nbytes
        if root.copied > COPY_BUDGET * max(root.data.nbytes, 1):
            raise CheckpointError(f"the tensors viewing one storage of {root.data.nbytes} bytes would take "
                                  f"{root.copied} bytes (overlapping or repeated views): refused")


# Views of one storage (a transposed copy, slices, the storage itself) are copied out as separate
# arrays; real checkpoints stay well under twice the storage, a crafted one can ask for terabytes.
COPY_BUDGET = 4


def _tensor(storage: Storage, offset: int, size: Any, stride: Any, dtype: Optional[TorchDType] = None,
            metadata: Optional[dict] = None) -> Optional[np.ndarray]:
    """``storage`` viewed at ``offset`` with ``size``/``stride`` (in elements), as a C-contiguous array."""
    if not isinstance(storage, Storage):
        raise CheckpointError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
    if storage.data is None:  # first pass over a legacy file: only the layout is being read
        return None
    size, stride = as_shape(size, "size"), as_shape(stride, "stride")
    if len(size) != len(stride) or not isinstance(offset, int) or offset < 0:
        raise CheckpointError(f"bad tensor layout: offset {offset!r}, size {size}, stride {stride}")
    dtype = dtype or storage.dtype
    data = storage.data
    if dtype is not storage.dtype:  # _rebuild_tensor_v3: an untyped (byte) storage read as ``dtype``
        usable = data.nbytes - data.nbytes % dtype.raw.itemsize
        data = data.view(np.uint8)[:usable].view(dtype.raw.newbyteorder(data.dtype.byteorder))
    dense = tuple(int(np.prod(size[i + 1:], dtype=np.int64)) for i in range(len(size)))
    if 0 in size:
        out = np.empty(size, dtype=data.dtype)
    elif (not storage.lent and data is storage.data and offset == 0 and stride == dense
          and int(np.prod(size, dtype=np.int64)) == data.size and data.flags.writeable and data.dtype.isnative):
        # The usual state-dict entry owns its whole storage: hand over the buffer instead of a
        # copy, so peak memory stays near the file size. Only the first tensor of a storage may.
        storage.lent = True
        out = data.reshape(size)
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= data.size:  # as_strided does not check bounds: a bad file must not read past the buffer
            raise CheckpointError(f"tensor of size {size}, stride {stride}, offset {offset} "
                                  f"runs past its storage of {data.size} elements")
        storage.charge(math.prod(size) * data.dtype.itemsize)  # before allocating: stride 0 repeats elements
        view = np.lib.stride_tricks.as_strided(data[offset:], shape=size,
                                               strides=[s * data.dtype.itemsize for s in stride])
        out = np.array(view, dtype=data.dtype.newbyteorder("="), order="C")
    out = dtype.finish(out)
    # Lazily conjugated / negated views keep the bit in metadata instead of in the values.
    if metadata and metadata.get("conj"):
        out = np.conj(out)
    if metadata and metadata.get("neg"):
        out = -out
    return out


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    return _tensor(storage, storage_offset, size, stride, metadata=metadata)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    if not isinstance(dtype, TorchDType):
        raise CheckpointError(f"bad tensor dtype {dtype!r}")
    return _tensor(storage, storage_offset, size, stride, dtype=dtype, metadata=metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    # A Parameter is its data for our purposes; hooks cannot be anything but empty here
    # because a hook would need a global outside the allow-list.
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    # Tensor subclasses / tensors with Python attributes: keep the tensor, drop the attributes.
    if func not in _REBUILDERS.values() or new_type not in (_TENSOR_MARKER, _PARAMETER_MARKER):
        raise UnsafeCheckpointError(f"unsupported tensor rebuild {func!r} / {new_type!r}")
    return func(*args)


_TENSOR_MARKER, _PARAMETER_MARKER = object(), object()
_REBUILDERS = {
    "_rebuild_tensor": _rebuild_tensor, "_rebuild_tensor_v2": _rebuild_tensor_v2,
    "_rebuild_tensor_v3": _rebuild_tensor_v3, "_rebuild_parameter": _rebuild_parameter,
    "_rebuild_parameter_with_state": _rebuild_parameter,
}


def _safe_globals() -> Dict[str, Any]:
    """``module.name`` -> what the unpickler gets instead of importing it."""
    table: Dict[str, Any] = {
        **numpy_globals(),
        "builtins.set": set, "builtins.frozenset": frozenset, "builtins.complex": complex,
        "builtins.slice": slice,
        "argparse.Namespace": argparse.Namespace,  # training scripts often save their args
        "torch.Size": tuple,
        "torch.device": lambda kind, index=None: kind if index is None else f"{kind}:{index}",
        "torch.Tensor": _TENSOR_MARKER, "torch._tensor.Tensor": _TENSOR_MARKER,
        "torch.nn.parameter.Parameter": _PARAMETER_MARKER,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    }
    for name, fn in _REBUILDERS.items():
        table[f"torch._utils.{name}"] = fn
    for name in list(_DTYPES) + list(_DTYPE_ALIASES):
        table[f"torch.{name}"] = TorchDType(_DTYPE_ALIASES.get(name, name))
    for cls, dtype in _STORAGE_CLASSES.items():
        for module in ("torch", "torch.cuda", "torch.storage"):
            table[f"{module}.{cls}"] = StorageType(TorchDType(dtype))
    for cls in _TENSOR_CLASSES:  # tar format: the tensor's original class, informational only
        table[f"torch.{cls}"] = table[f"torch.cuda.{cls}"] = _TENSOR_MARKER
    return table


SAFE_GLOBALS = _safe_globals()


# Top-level modules that no model class lives in: a global from them is refused without a hint.
_SYSTEM_MODULES = {"builtins", "__builtin__", "os", "posix", "nt", "sys", "subprocess", "shutil", "importlib",
                   "io", "pickle", "socket", "runpy", "code", "ctypes", "_codecs", "numpy"}


def _refusal_reason(module: str, name: str) -> str:
    """Why a global is refused, with a hint where the user can do something about it."""
    if module in ("torch._utils", "torch.serialization"):
        return "unsupported tensor kind (sparse, quantized, nested and meta tensors are not read)"
    if module == "torch" and name[:1].islower():
        return "unsupported torch dtype"
    if module.split(".")[0] in _SYSTEM_MODULES:
        return "not an allowed tensor/container type"
    return ("not an allowed tensor/container type; the file pickles a whole object (e.g. torch.save(model)): "
            "load it once with torch and save its state_dict() instead")


class _RestrictedUnpickler(RestrictedUnpickler):
    """The restricted unpickler with :data:`SAFE_GLOBALS`, whose storages come from ``load_storage``."""

    def __init__(self, file: BinaryIO, load_storage: Callable[[tuple], Any]) -> None:
        super().__init__(file, SAFE_GLOBALS, _refusal_reason, load_storage)


def _storage_pid(pid: Any) -> tuple:
    """Check a ``('storage', type, key, location, numel[, view])`` persistent id."""
    if not isinstance(pid, tuple) or not pid or pid[0] not in ("storage", b"storage"):
        raise CheckpointError(f"unsupported persistent id {pid!r:.80}")
    if len(pid) not in (5, 6) or not isinstance(pid[1], StorageType) or not isinstance(pid[4], int):
        raise CheckpointError(f"bad storage record {pid!r:.80}")
    return pid


def _byteorder(little: bool) -> str:
    return "<" if little else ">"


def _read_zip(zf: zipfile.ZipFile) -> Any:
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkl:
        if any(n.endswith("constants.pkl") for n in names):
            raise CheckpointError("this is a TorchScript archive (torch.jit.save); save the model's state_dict() "
                                  "with torch.save instead")
        raise CheckpointError("zip file without data.pkl: not a torch.save checkpoint")
    prefix = pkl[0][: -len("data.pkl")]
    order = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
    cache: Dict[str, Storage] = {}

    def load_storage(pid: Any) -> Storage:
        _, stype, key, _location, numel = _storage_pid(pid)[:5]
        if key not in cache:
            name = f"{prefix}data/{key}"
            with zf.open(name) as f:
                raw = _read_buffer(f, _member_size(zf, name))
            dtype = stype.dtype.raw.newbyteorder(_byteorder(order == "little"))
            if len(raw) < numel * dtype.itemsize:
                raise CheckpointError(f"storage {key} holds {len(raw)} bytes, needs {numel * dtype.itemsize}")
            cache[key] = Storage(stype.dtype, np.frombuffer(raw, dtype=dtype, count=numel))
        return cache[key]

    with zf.open(pkl[0]) as f:
        return _RestrictedUnpickler(io.BytesIO(_read_buffer(f, _member_size(zf, pkl[0]))), load_storage).load()


def _member_size(zf: zipfile.ZipFile, name: str) -> int:
    """A zip member's size, checked against the archive before anything that size is allocated."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise CheckpointError(f"zip checkpoint without member {name!r} (truncated?)") from None
    archive = os.fstat(zf.fp.fileno()).st_size if hasattr(zf.fp, "fileno") else None
    # torch writes storages uncompressed; a deflated member may expand at most ~1032x (zlib's limit).
    limit = info.compress_size * (1 if info.compress_type == zipfile.ZIP_STORED else 1032)
    if info.file_size > limit or (archive is not None and info.compress_size > archive):
        raise CheckpointError(f"zip member {name} claims {info.file_size} bytes, more than the "
                              f"{info.compress_size} bytes stored for it")
    return info.file_size


def _read_buffer(f: BinaryIO, size: int, chunk: int = 1 << 24) -> bytearray:
    """``size`` bytes in a writable buffer that arrays can own, read in chunks (no second full copy)."""
    buf = bytearray(size)
    view = memoryview(buf)
    pos = 0
    while pos < size:
        data = f.read(min(chunk, size - pos))
        if not data:
            raise CheckpointError("file ends inside the storage data (truncated?)")
        view[pos:pos + len(data)] = data
        pos += len(data)
    return buf


def _read_raw_storage(f: BinaryIO, dtype: TorchDType, little: bool = True) -> np.ndarray:
    """One storage of the legacy/tar formats: int64 element count, then the raw elements."""
    head = f.read(8)
    (numel,) = struct.unpack("<q", head) if len(head) == 8 else (-1,)
    raw_dtype = dtype.raw.newbyteorder(_byteorder(little))
    here = f.tell()
    left = f.seek(0, io.SEEK_END) - here
    f.seek(here)
    # Check the count against what is left before reading, so a corrupt count cannot ask for terabytes.
    if not 0 <= numel * raw_dtype.itemsize <= left:
        raise CheckpointError("file ends inside the storage data (truncated?)")
    return np.frombuffer(_read_buffer(f, numel * raw_dtype.itemsize), dtype=raw_dtype)


def _plain_load(f: BinaryIO) -> Any:
    """A pickle that may not reference any storage (headers, key lists)."""

    def no_storage(pid: Any) -> Any:
        raise CheckpointError(f"corrupt or not a PyTorch checkpoint (unexpected persistent id {pid!r:.80})")

    return _RestrictedUnpickler(f, no_storage).load()


def _read_legacy(f: BinaryIO) -> Any:
    if _plain_load(f) != LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (no zip archive, no legacy magic number)")
    protocol = _plain_load(f)
    if protocol != LEGACY_PROTOCOL:
        raise CheckpointError(f"unsupported legacy protocol version {protocol!r}")
    sys_info = _plain_load(f)
    little = bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
    start = f.tell()
    # The object pickle comes before the storage bytes, so its tensors cannot be built while it
    # is read: a first pass learns every storage's dtype (tensors come back as None), a second
    # pass, once the bytes are in, builds the arrays.
    roots: Dict[Any, Storage] = {}
    views: Dict[Any, Storage] = {}

    def load_storage(pid: Any) -> Storage:
        pid = _storage_pid(pid)
        _, stype, key, _location, numel = pid[:5]
        root = roots.setdefault(key, Storage(stype.dtype, None))
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return root
        view_key, offset, length = view
        if view_key not in views:
            views[view_key] = root.view(offset, length)
        return views[view_key]

    _RestrictedUnpickler(f, load_storage).load()
    keys = _plain_load(f)
    if not isinstance(keys, list) or set(keys) != set(roots):
        raise CheckpointError("storage key list does not match the storages the object uses")
    for key in keys:
        roots[key].data = _read_raw_storage(f, roots[key].dtype, little)
    views.clear()
    f.seek(start)
    return _RestrictedUnpickler(f, load_storage).load()


def _read_tar(tar: tarfile.TarFile) -> Any:
    def member(name: str) -> BinaryIO:
        try:
            return io.BytesIO(tar.extractfile(name).read())
        except (KeyError, AttributeError) as e:
            raise CheckpointError(f"tar checkpoint without member {name!r} (truncated?)") from e

    objects: Dict[Any, Any] = {}
    f = member("storages")
    for _ in range(_plain_load(f)):
        key, _location, stype = _plain_load(f)
        if not isinstance(stype, StorageType):
            raise CheckpointError(f"bad storage type {stype!r}")
        objects[key] = Storage(stype.dtype, _read_raw_storage(f, stype.dtype))
    for target, root, offset, numel in _plain_load(f):
        objects[target] = objects[root].view(offset, numel)
    f = member("tensors")
    for _ in range(_plain_load(f)):
        key, storage_id, _cls = _plain_load(f)
        (ndim,) = struct.unpack("<i", f.read(4))
        f.read(4)  # the format once stored ndim in 8 bytes; torch skips the upper half too
        dims = struct.unpack(f"<{2 * ndim + 1}q", f.read(8 * (2 * ndim + 1)))
        objects[key] = _tensor(objects[storage_id], dims[-1], dims[:ndim], dims[ndim:2 * ndim])

    def load_tensor(pid: Any) -> Any:
        if isinstance(pid, tuple):  # ('module', class, file, source): the class global was already refused
            return pid[0]
        if int(pid) not in objects:
            raise CheckpointError(f"unknown tensor id {pid!r}")
        return objects[int(pid)]

    return _RestrictedUnpickler(member("pickle"), load_tensor).load()


def load_torch_file(path: str) -> Any:
    """Load a ``torch.save`` file (zip, legacy or tar) with tensors as numpy arrays, refusing unsafe globals."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            f.seek(0)
            if head == b"PK\x03\x04":
                try:
                    zf = zipfile.ZipFile(f)
                except zipfile.BadZipFile as e:
                    raise CheckpointError(f"corrupt or truncated zip checkpoint ({e})") from None
                with zf:
                    return _read_zip(zf)
            if tarfile.is_tarfile(path):
                with tarfile.open(path, mode="r:") as tar:
                    return _read_tar(tar)
            return _read_legacy(f)
    except UnsafePickleError as e:
        raise UnsafeCheckpointError(f"{path}: {e}") from None
    except PickleFormatError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except OSError as e:  # also zipfile seeking to a corrupt offset
        raise CheckpointError(f"{path}: cannot read ({type(e).__name__}: {e})") from None
    except (EOFError, pickle.UnpicklingError, zipfile.BadZipFile, tarfile.TarError, KeyError, ValueError,
            TypeError, IndexError, AttributeError, struct.error, OverflowError, MemoryError, NotImplementedError,
            RuntimeError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated checkpoint ({type(e).__name__}: {e})") from None
