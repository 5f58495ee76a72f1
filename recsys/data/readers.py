"""Read user-supplied CSV/Parquet/text files into Arrow tables, failing with the file and row named."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys.errors import InputError


def require_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found")
    return path


def _undecodable_line(path: Path, encoding: str) -> str:
    """Locate the first line that does not decode (only called once a read has already failed)."""
    data = path.read_bytes()
    try:
        data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return f"line {line}: byte {data[err.start]:#04x} is not valid {encoding} text"
    return f"not valid {encoding} text"


def read_text(path: Path, encoding: str) -> str:
    path = require_file(path)
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        raise InputError(str(path), _undecodable_line(path, encoding) + f" (expected {encoding})") from None


def read_table(
    path: Path,
    columns: list[str],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    header: list[str] | None = None,
) -> pa.Table:
    """Read `columns` of a CSV (all as text) or Parquet file, plus `row`: the 1-based data row.

    `header` names the columns of a header-less delimited file (the ML-100K layout).
    """
    path = require_file(path)
    if ".parquet" in path.suffixes:
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise InputError(str(path), f"not a readable Parquet file ({err})") from None
    else:
        read_options = pacsv.ReadOptions(encoding=encoding, column_names=header)
        missing = [c for c in columns if header is not None and c not in header]
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns if c not in missing},
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        try:
            table = pacsv.read_csv(
                path,
                read_options=read_options,
                parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"' if delimiter == "," else False),
                convert_options=convert,
            )
        except pa.ArrowInvalid as err:
            if "UTF8" in str(err) or "decode" in str(err).lower():
                raise InputError(str(path), _undecodable_line(path, encoding) + f" (expected {encoding})") from None
            raise InputError(str(path), f"not a readable CSV file ({str(err).splitlines()[0]})") from None
    absent = [c for c in columns if c not in table.column_names]
    if absent:
        raise InputError(
            str(path),
            f"missing column {absent[0]!r} (found: {', '.join(table.column_names)})",
        )
    table = table.select(columns)
    return table.append_column("row", pa.array(range(1, table.num_rows + 1), pa.int64()))
