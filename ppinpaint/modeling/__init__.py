from ..utils.autoimport import import_submodules as _import_submodules

_import_submodules(__import__(__name__, fromlist=["_"]))
