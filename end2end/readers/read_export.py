"""Reads a posts export back with readers that share no code with the service: Python's csv and
json modules, and pyarrow (Apache Arrow's reader, as pandas and polars use it) for Parquet.

    python3 read_export.py csv|ndjson|parquet FILE

Prints one JSON object: the row count, the columns (with their Arrow types for Parquet) and each
row as the reader gave it, the record parsed from its JSON text, for the browser tests to compare
with what they sent.
"""

import csv
import json
import sys


def read_csv(path):
    # utf-8-sig: an export made for Excel starts with a byte order mark, which is not in the header.
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file, strict=True)
        rows = list(reader)
        columns = reader.fieldnames or []
    for row in rows:
        row["record"] = json.loads(row["record"])
    return {"rows": len(rows), "columns": [{"name": c} for c in columns], "data": rows}


def read_ndjson(path):
    with open(path, encoding="utf-8") as file:
        lines = file.read().split("\n")
    # One record per line, the last line ending in a newline: nothing after it, no blank line inside.
    if lines[-1] != "":
        raise ValueError("the file does not end with a newline")
    records = [json.loads(line) for line in lines[:-1]]
    return {"rows": len(records), "columns": [], "data": [{"record": r} for r in records]}


def read_parquet(path):
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    rows = table.to_pylist()
    for row in rows:
        row["record"] = json.loads(row["record"])
        for name, value in row.items():
            # Timestamps as ISO text, so the result is JSON.
            if hasattr(value, "isoformat"):
                row[name] = value.isoformat()
    return {"rows": len(rows), "columns": columns, "data": rows}


READERS = {"csv": read_csv, "ndjson": read_ndjson, "parquet": read_parquet}

if __name__ == "__main__":
    kind, path = sys.argv[1], sys.argv[2]
    json.dump(READERS[kind](path), sys.stdout, ensure_ascii=False)
