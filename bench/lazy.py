"""A package's public names, imported from its submodules on first use
(PEP 562), so that importing a light submodule does not import pandas."""
from __future__ import annotations

import importlib


def exports(package: str, names: dict[str, str]):
    """(__getattr__, __dir__, __all__) for `package`: each name maps to
    "submodule" or "submodule:attribute"."""
    module = importlib.import_module(package)

    def getattr_(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        sub, _, attr = names[name].partition(":")
        value = getattr(importlib.import_module(f"{package}.{sub}"), attr or name)
        setattr(module, name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*vars(module), *names})

    return getattr_, dir_, list(names)
