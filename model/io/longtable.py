"""Writing a run's long table (``Results.to_frame``: run, step, date, metric, source, target,
value) to one file, chunk by chunk and block by block (one metric, source and target of a
chunk), so that memory holds one block at a time.

The file appears only when every chunk is written (``model.io.atomic``): an interrupted run
leaves no partial table. Ctrl-C, and SIGTERM/SIGHUP under ``atomic.terminate_cleanly`` (which the
command line wraps around every command), remove the temporary file; what a SIGKILLed writer left
beside the same target is removed by the next write (``atomic.clean_stale``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from model.io.atomic import atomic_output, clean_stale
from model.io.errors import ModelInputError

#: File types the long table can be written as.
SUFFIXES = (".parquet", ".csv")
#: Rows per Parquet row group (blocks are gathered up to this many before they are written).
ROW_GROUP = 1_000_000


def check_path(out: str | Path, option: str = "--out") -> Path:
    """``out`` as a Path when it ends in a known suffix; ModelInputError otherwise."""
    if Path(out).suffix not in SUFFIXES:
        raise ModelInputError(f"{option} {out}: expected a file ending in .parquet or .csv")
    return Path(out)


def write_long_table(chunks: Iterable[Any], out: Path) -> int:
    """Stream each chunk's long table (``chunk.to_frame()``) to ``out`` (.parquet, zstd, or
    .csv); returns the rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_path(out)
    clean_stale(out)
    rows = 0
    with atomic_output(out, fsync=False) as tmp:
        if out.suffix == ".parquet":
            writer, held = None, []
            try:
                for table in _tables(chunks):
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                    held.append(table)
                    rows += table.num_rows
                    if sum(t.num_rows for t in held) >= ROW_GROUP:
                        writer.write_table(pa.concat_tables(held))
                        held = []
                if held:
                    writer.write_table(pa.concat_tables(held))
            finally:
                if writer is not None:
                    writer.close()
        else:
            first = True
            for res in chunks:
                for df in res.frames():
                    df.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
                    first = False
                    rows += len(df)
    return rows


def _tables(chunks: Iterable[Any]):
    """Each chunk's long table as Arrow tables, one block (metric, source, target) at a time:
    memory holds one block, not a chunk's whole table."""
    import pyarrow as pa

    for res in chunks:
        for df in res.frames():
            yield pa.Table.from_pandas(df, preserve_index=False)
