"""Read the authors' pandas pickles without executing arbitrary code.

The split files are pickled DataFrames. A restricted unpickler admits only the few pandas, numpy
and builtin callables such a frame needs; anything else (os.system, eval, ...) is refused before
it can run.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd

from recsys.errors import InputError

_ALLOWED = {
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    # A numpy scalar (the MovieLens frames' (item, rating) pairs hold them): a dtype and its raw
    # bytes; an object dtype would only hand back an object this unpickler already admitted.
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "slice"),
    # What pandas 3 writes for the same frame (string columns become Arrow-backed arrays).
    ("pandas", "DataFrame"),
    ("pandas", "Index"),
    ("pandas", "RangeIndex"),
    ("pandas", "StringDtype"),
    ("pandas.arrays", "ArrowStringArray"),
    ("pyarrow.lib", "_restore_array"),
    ("pyarrow.lib", "type_for_alias"),
    ("pyarrow.lib", "py_buffer"),
}
# Pickles written with numpy 1.x name numpy.core; numpy 2 moved it to numpy._core.
_RENAMED = {"numpy.core.multiarray": "numpy._core.multiarray", "numpy.core.numeric": "numpy._core.numeric"}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = _RENAMED.get(module, module)
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused type {module}.{name}")
        return super().find_class(module, name)


def read_pickled_frame(path: Path) -> pd.DataFrame:
    """Load a pickled DataFrame, admitting only the types a plain frame needs."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found")
    try:
        with path.open("rb") as handle:
            frame = _RestrictedUnpickler(handle).load()
    except pickle.UnpicklingError as err:
        raise InputError(
            str(path), f"{err}; expected only a pickled pandas DataFrame of numbers and lists"
        ) from None
    except Exception as err:  # truncated or corrupt bytes surface as many different types
        raise InputError(str(path), f"not a readable pickled DataFrame ({type(err).__name__}: {err})") from None
    if not isinstance(frame, pd.DataFrame):
        raise InputError(str(path), f"expected a pandas DataFrame, got {type(frame).__name__}")
    return frame
