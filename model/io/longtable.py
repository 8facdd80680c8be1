"""Writing a run's long table (``Results.to_frame``: run, step, date, metric, source, target,
value) to one file, chunk by chunk, so that memory holds one chunk at a time.

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
            writer = None
            try:
                for res in chunks:
                    table = pa.Table.from_pandas(res.to_frame(), preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                    writer.write_table(table)
                    rows += table.num_rows
            finally:
                if writer is not None:
                    writer.close()
        else:
            first = True
            for res in chunks:
                df = res.to_frame()
                df.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
                first = False
                rows += len(df)
    return rows
