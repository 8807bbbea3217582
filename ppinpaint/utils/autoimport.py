"""Import every module of a package so that its registrations run."""
import importlib
import pkgutil
from types import ModuleType


def import_submodules(package: ModuleType) -> None:
    """Import all modules below ``package`` (recursively), in name order; a plain module has none."""
    found = pkgutil.walk_packages(getattr(package, "__path__", []), package.__name__ + ".")
    for info in sorted(found, key=lambda i: i.name):
        importlib.import_module(info.name)
