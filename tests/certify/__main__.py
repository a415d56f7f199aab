"""``python -m certify RECORDS`` (from ``tests/``): write the summary tables
of the certification matrix's records into the README and the user guide."""

import sys

from .table import load, write

if __name__ == "__main__":
    records = load(sys.argv[1])
    write(records)
    print(f"{len(records)} records written into README.md and docs/user_guide.rst")
