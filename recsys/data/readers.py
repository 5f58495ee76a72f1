"""User-supplied CSV/Parquet/text files as tables DuckDB can scan, failing with the file and row named.

A Parquet file is scanned where it lies. A CSV file is streamed once, block by block, into a
Parquet copy in the scratch directory (every column as text), so neither is ever read whole.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Iterator

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from recsys.data.duck import quote, write_parquet
from recsys.errors import InputError


def require_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found")
    return path


def _undecodable_line(path: Path, encoding: str) -> str:
    """Locate the first line that does not decode (only called once a read has already failed).

    Reads whole lines a block at a time, so the file is never held in memory at once.
    """
    line, carry = 1, b""
    with path.open("rb") as handle:
        for block in chain(iter(lambda: handle.read(1 << 20), b""), [None]):  # None: end of file
            data = carry + (block or b"")
            cut = len(data) if block is None else data.rfind(b"\n") + 1
            data, carry = data[:cut], data[cut:]
            try:
                data.decode(encoding)
            except UnicodeDecodeError as err:
                line += data[: err.start].count(b"\n")
                return f"line {line}: byte {data[err.start]:#04x} is not valid {encoding} text"
            line += data.count(b"\n")
    return f"not valid {encoding} text"


def read_text(path: Path, encoding: str) -> str:
    path = require_file(path)
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError:
        raise InputError(str(path), _undecodable_line(path, encoding) + f" (expected {encoding})") from None


@dataclass(frozen=True)
class TableFile:
    """A Parquet file to scan, the file to name in errors, and our column names -> the file's."""

    parquet: Path
    shown: str
    columns: dict[str, str]

    def sql(self) -> str:
        """A query giving our columns plus `row`, the 1-based data row of the original file."""
        picked = ", ".join(f'"{source}" AS "{name}"' for name, source in self.columns.items())
        return (f"SELECT {picked}, file_row_number + 1 AS row "
                f"FROM read_parquet({quote(str(self.parquet))}, file_row_number = true)")

    @contextlib.contextmanager
    def scanning(self):
        """Around a query that reads this file: pages DuckDB cannot decode (a corrupt file whose
        footer, checked when the file was opened, is intact) are bad input, not a crash."""
        try:
            yield
        except (duckdb.OutOfMemoryException, duckdb.InterruptException):
            raise
        except duckdb.Error as err:
            raise InputError(self.shown, f"not a readable file ({str(err).splitlines()[0]})") from None


def _check_columns(path: Path, found: list[str], columns: list[str]) -> None:
    absent = [c for c in columns if c not in found]
    if absent:
        raise InputError(str(path), f"missing column {absent[0]!r} (found: {', '.join(found)})")


def _csv_batches(
    path: Path, columns: list[str], encoding: str, delimiter: str, header: list[str] | None
) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
    """Stream `columns` of a CSV as text; decoding and parsing errors name the file and line."""

    def failed(err: pa.ArrowInvalid | UnicodeDecodeError) -> InputError:
        if isinstance(err, UnicodeDecodeError) or "UTF8" in str(err) or "decode" in str(err).lower():
            return InputError(str(path), _undecodable_line(path, encoding) + f" (expected {encoding})")
        return InputError(str(path), f"not a readable CSV file ({str(err).splitlines()[0]})")

    missing = [c for c in columns if header is not None and c not in header]
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, column_names=header),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"' if delimiter == "," else False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns if c not in missing},
                null_values=[""],  # only an empty field is missing: a title "NA" or a timestamp "nan" is text
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        found = reader.schema.names  # a header that is not valid UTF-8 fails only here
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        raise failed(err) from None
    _check_columns(path, found, columns)
    twice = [c for c in columns if found.count(c) > 1]
    if twice:
        raise InputError(str(path), f"column {twice[0]!r} appears twice in the header (expected unique names)")
    schema = pa.schema([reader.schema.field(c) for c in columns])

    def stream() -> Iterator[pa.RecordBatch]:
        try:
            for batch in reader:
                yield pa.RecordBatch.from_arrays([batch.column(c) for c in columns], schema=schema)
        except pa.ArrowInvalid as err:
            raise failed(err) from None

    return schema, stream()


def scan_table(
    path: Path,
    columns: dict[str, str],
    scratch: Path,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    header: list[str] | None = None,
) -> TableFile:
    """`columns` (our name -> the file's) of a CSV or Parquet file, ready to scan.

    `header` names the columns of a header-less delimited file (the ML-100K layout).
    """
    path = require_file(path)
    wanted = list(dict.fromkeys(columns.values()))
    if ".parquet" in path.suffixes:
        try:
            found = pq.ParquetFile(path).schema_arrow.names
        except (pa.ArrowException, OSError) as err:
            raise InputError(str(path), f"not a readable Parquet file ({err})") from None
        _check_columns(path, found, wanted)
        return TableFile(path, str(path), columns)
    staged = Path(scratch) / f"staged-{len(list(Path(scratch).glob('staged-*')))}.parquet"
    write_parquet(staged, *_csv_batches(path, wanted, encoding, delimiter, header))
    return TableFile(staged, str(path), columns)


def read_table(
    path: Path, columns: list[str], *, encoding: str = "utf-8", delimiter: str = ",", header: list[str] | None = None
) -> pa.Table:
    """`columns` of a small CSV or Parquet file in memory, plus `row` (the 1-based data row)."""
    path = require_file(path)
    if ".parquet" in path.suffixes:
        try:
            table = pq.read_table(path)
        except (pa.ArrowException, OSError) as err:
            raise InputError(str(path), f"not a readable Parquet file ({err})") from None
        _check_columns(path, table.column_names, columns)
        table = table.select(columns)
    else:
        schema, stream = _csv_batches(path, columns, encoding, delimiter, header)
        table = pa.Table.from_batches(list(stream), schema)
    return table.append_column("row", pa.array(range(1, table.num_rows + 1), pa.int64()))
