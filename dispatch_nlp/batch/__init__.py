"""Batch reclassification of history: every row of a table in, one decision row out, in order.

    from dispatch_nlp.batch import BatchOptions, run_batch
    from dispatch_nlp.batch.tables import ColumnSpec

    result = run_batch("history.csv", "decisions.parquet",
                       BatchOptions(spec=ColumnSpec(text_col="内容", id_col="工单编号"), workers=4,
                                    compare_col="原分类", resume=True))
    print(result.summary)

The same row logic runs on Spark executors (``dispatch_nlp.batch.spark.reclassify``); the output columns
are ``column_names(compare)``.
"""

from dispatch_nlp.batch.io import RowWriter, read_chunks
from dispatch_nlp.batch.report import ChangeReport, Summary
from dispatch_nlp.batch.rows import (
           BASE_COLUMNS,
           COMPARE_COLUMNS,
           DEFAULT_MAX_CHARS,
           RowProcessor,
           column_names,
           columns,
)
from dispatch_nlp.batch.run import BatchOptions, BatchResult, run_batch, work_dir

__all__ = ["BatchOptions", "BatchResult", "run_batch", "work_dir", "RowProcessor", "RowWriter", "read_chunks",
           "Summary", "ChangeReport", "columns", "column_names", "BASE_COLUMNS", "COMPARE_COLUMNS",
           "DEFAULT_MAX_CHARS"]
