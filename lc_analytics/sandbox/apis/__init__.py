"""The emulated API's product areas beyond Stream's core, one module each.

Each module adds its routes with `emulator.register(route(path, GET=(handler, permission)))`,
where a handler is a function `(emulator, request) -> (status, payload)`; every module of this
package is imported when the emulator is, so adding an area never edits `emulator.py`. State a
module keeps (webhooks, policies, ...) lives in `emulator.module_state(key, factory)`.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
