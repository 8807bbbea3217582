"""A pickle reader that runs no code: every global comes from a fixed table, BUILD is restricted.

``pickle.load`` imports and calls whatever global a file names (``os.system`` included). The
readers of ``.pth`` (PyTorch) and ``.pdparams`` (``paddle.save``) files both use
:class:`RestrictedUnpickler` instead: a global outside the caller's table stops loading with
:class:`UnsafePickleError` naming it, before anything is called. numpy arrays pickled in a file
are rebuilt by our own code (numeric dtypes only), and their size is checked against the bytes
the file really holds before anything is allocated.
"""
import argparse
import collections
import math
import pickle
from typing import Any, BinaryIO, Callable, Dict, Iterable, Optional, Tuple


class PickleFormatError(ValueError):
    """A pickled file that does not hold what it should (corrupt, truncated, wrong kind)."""


class UnsafePickleError(PickleFormatError):
    """The file asks for a global outside the allow-list (loading it with pickle could run code)."""


def as_shape(value: Any, what: str) -> Tuple[int, ...]:
    """``value`` as a tuple of non-negative ints, or a :class:`PickleFormatError`."""
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, int) and v >= 0 for v in value):
        raise PickleFormatError(f"bad tensor {what}: {value!r:.80}")
    return tuple(value)


def encode_latin1(text: str, encoding: str = "latin1") -> bytes:
    """How protocol-2 pickles store bytes: ``_codecs.encode(str, 'latin1')``; nothing else is allowed."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"refusing _codecs.encode with {encoding!r:.40}")
    return text.encode(encoding)


class NumpyDType:
    """Stand-in for ``numpy.dtype(...)`` inside a pickle; only plain numeric/bool dtypes."""

    def __init__(self, name: str, align: bool = False, copy: bool = False) -> None:
        import numpy as np

        dtype = np.dtype(name) if isinstance(name, str) and len(name) <= 4 and name.isalnum() else None
        if dtype is None or dtype.kind not in "biufc":
            raise UnsafePickleError(f"refusing numpy dtype {name!r:.40} (only numeric dtypes are read)")
        self.dtype = dtype

    def __setstate__(self, state: tuple) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.dtype = self.dtype.newbyteorder(state[1])


def numpy_scalar(dtype: NumpyDType, data: bytes = b"") -> Any:
    """``numpy.core.multiarray.scalar``: one value of a numeric dtype from its raw bytes."""
    import numpy as np

    if not isinstance(dtype, NumpyDType) or not isinstance(data, bytes) or len(data) != dtype.dtype.itemsize:
        raise PickleFormatError("bad numpy scalar")
    return np.frombuffer(data, dtype=dtype.dtype)[0]


class NumpyArray:
    """Receives ``numpy.ndarray`` pickle state; ``value`` is the array."""

    def __setstate__(self, state: tuple) -> None:
        import numpy as np

        if not isinstance(state, tuple) or len(state) != 5:
            raise PickleFormatError("bad numpy array record")
        _, shape, dtype, fortran, raw = state
        if not isinstance(dtype, NumpyDType) or not isinstance(raw, bytes):
            raise UnsafePickleError("refusing a numpy array that is not plain numeric data")
        shape = as_shape(shape, "numpy shape")
        count = math.prod(shape)
        # The bytes are already in memory (they were in the file); a shape claiming more is refused
        # before anything is allocated.
        if count * dtype.dtype.itemsize != len(raw):
            raise PickleFormatError(f"numpy array of shape {shape} needs {count * dtype.dtype.itemsize} bytes, "
                                    f"the file holds {len(raw)}")
        self.value = np.frombuffer(raw, dtype=dtype.dtype, count=count).reshape(
            shape, order="F" if fortran else "C").copy()


def numpy_reconstruct(cls: Any, shape: Any, typecode: Any) -> NumpyArray:
    """``numpy.core.multiarray._reconstruct``: only ever an empty :class:`NumpyArray` holder."""
    if cls is not NumpyArray:
        raise UnsafePickleError(f"refusing numpy _reconstruct of {cls!r:.60}")
    return NumpyArray()


def numpy_globals() -> Dict[str, Any]:
    """What numpy arrays, dtypes and scalars pickle as (``numpy.core`` and numpy 2's ``numpy._core``)."""
    table: Dict[str, Any] = {"numpy.dtype": NumpyDType, "numpy.ndarray": NumpyArray, "_codecs.encode": encode_latin1,
                             "collections.OrderedDict": collections.OrderedDict}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[f"{module}.scalar"] = numpy_scalar
        table[f"{module}._reconstruct"] = numpy_reconstruct
    return table


class RestrictedUnpickler(pickle._Unpickler):
    """An unpickler whose only globals are ``allowed`` and that sets state only on known holders.

    It is the pure-Python unpickler because the BUILD opcode has to be restricted as well: it sets
    attributes on whatever object is on the stack, and the objects of the table (classes, our
    functions, markers) are shared by every load in the process.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: BinaryIO, allowed: Dict[str, Any], refusal: Callable[[str, str], str],
                 load_persistent: Optional[Callable[[Any], Any]] = None, holders: Iterable[type] = ()) -> None:
        super().__init__(file, encoding="utf-8")
        self._allowed = allowed
        self._refusal = refusal
        self._load_persistent = load_persistent
        self._holders = (NumpyDType, NumpyArray) + tuple(holders)

    def load_build(self) -> None:
        """BUILD only on the holders that need it, and only plain attribute dicts on containers."""
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) in self._holders:
            inst.__setstate__(state)
        elif (type(inst) in (collections.OrderedDict, argparse.Namespace) and isinstance(state, dict)
              and all(isinstance(k, str) and not k.startswith("__") for k in state)):
            vars(inst).update(state)  # a state dict's _metadata, a Namespace's fields
        else:
            raise UnsafePickleError(f"refusing to set the state of {type(inst).__name__} {inst!r:.60}")

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module: str, name: str) -> Any:
        # Protocol-2 pickles spell builtins the Python 2 way.
        key = f"{'builtins' if module == '__builtin__' else module}.{name}"
        if key not in self._allowed:
            raise UnsafePickleError(f"refusing to load global {key!r}: {self._refusal(module, name)}")
        return self._allowed[key]

    def persistent_load(self, pid: Any) -> Any:
        if self._load_persistent is None:
            raise PickleFormatError(f"unexpected persistent id {pid!r:.80}")
        return self._load_persistent(pid)

    def load(self) -> Any:
        return unwrap_arrays(super().load())


def unwrap_arrays(obj: Any, seen: Optional[set] = None) -> Any:
    """Replace :class:`NumpyArray` holders (numpy arrays pickled in a file) by their arrays."""
    seen = set() if seen is None else seen
    if isinstance(obj, NumpyArray):
        if not hasattr(obj, "value"):
            raise PickleFormatError("numpy array without data")
        return obj.value
    if not isinstance(obj, (dict, list, tuple, argparse.Namespace)) or id(obj) in seen:
        return obj
    seen.add(id(obj))  # pickles may hold shared or self-referencing containers
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = unwrap_arrays(v, seen)
    elif isinstance(obj, list):
        obj[:] = [unwrap_arrays(v, seen) for v in obj]
    elif isinstance(obj, argparse.Namespace):
        vars(obj).update({k: unwrap_arrays(v, seen) for k, v in vars(obj).items()})
    else:
        return tuple(unwrap_arrays(v, seen) for v in obj)
    return obj
