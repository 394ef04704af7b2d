"""A crafted filing day for the analyst layer (report, views, Parquet, highlights).

2026-02-02 at Northwind (NWTX): the CEO, CFO and General Counsel sell to cover taxes while
receiving options and RSUs (a PSU for the GC); a director buys; the CTO has shares withheld (F),
sells at his discretion and exercises options (both legs); the R&D EVP's sale is amended the
same day (only the 4/A counts); a fund and its manager report one purchase together. One more
purchase is filed on 2026-02-03, outside the day.
"""

from __future__ import annotations

from datetime import date

from form4.parsers.records import ParsedFiling
from tests.records_factory import make_filing, owner, row

DAY = date(2026, 2, 2)
NWTX = ("0002900001", "NWTX", "Northwind Therapeutics Inc")


def analyst_day() -> list[ParsedFiling]:
    return [
        make_filing(
            "0002900001-26-000011",
            owners=(
                owner(
                    "0002900011",
                    "Lindqvist Maren",
                    title="President and Chief Executive Officer",
                    director=True,
                ),
            ),
            rows=(
                row(1, "S", "95269", "1.80", cover=True, after="1109243"),
                row(1, "A", "1387931", "0", derivative=True, kind="option"),
                row(2, "A", "392586", "0", derivative=True, kind="rsu"),
            ),
        ),
        make_filing(
            "0002900001-26-000012",
            owners=(owner("0002900012", "Okafor Daniel", title="Chief Financial Officer"),),
            rows=(
                row(1, "S", "30000", "1.80", cover=True, after="500000"),
                row(1, "A", "400000", "0", derivative=True, kind="option"),
                row(2, "A", "100000", "0", derivative=True, kind="rsu"),
            ),
        ),
        make_filing(
            "0002900001-26-000013",
            owners=(owner("0002900013", "Reyes Priya", title="General Counsel & Secretary"),),
            rows=(
                row(1, "S", "20000", "1.75", cover=True, after="300000"),
                row(1, "A", "300000", "0", derivative=True, kind="option"),
                row(2, "A", "80000", "0", derivative=True, kind="psu"),
            ),
        ),
        make_filing(
            "0002900001-26-000014",
            owners=(owner("0002900014", "Sorensen Ingrid", director=True),),
            rows=(row(1, "P", "50000", "1.82", after="60000"),),
        ),
        make_filing(
            "0002900001-26-000015",
            owners=(owner("0002900015", "Moreau Lucien", title="Chief Technology Officer"),),
            rows=(
                row(1, "F", "5000", "1.80", after="90000"),
                row(2, "S", "10000", "1.90", after="80000"),
                row(3, "M", "2000", "0.50", after="82000"),
                row(1, "M", "2000", "0", derivative=True, kind="option"),
            ),
        ),
        make_filing(
            "0002900001-26-000016",
            owners=(owner("0002900016", "Ng Alice", title="EVP, R&D"),),
            rows=(row(1, "S", "1000", "2.00", after="4200"),),
        ),
        make_filing(
            "0002900001-26-000017",
            form_type="4/A",
            original=DAY,
            owners=(owner("0002900016", "Ng Alice", title="EVP, R&D"),),
            rows=(row(1, "S", "1200", "2.00", plan=True, after="4000"),),
        ),
        make_filing(
            "0002900024-26-000001",
            owners=(
                owner("0002900041", "Blue Heron Capital Partners LP", ten_percent=True),
                owner("0002900042", "Blue Heron Capital Management LLC", ten_percent=True),
            ),
            rows=(row(1, "P", "100000", "1.70", after="5000000"),),
        ),
        make_filing(
            "0002900001-26-000020",
            owners=(owner("0002900014", "Sorensen Ingrid", director=True),),
            rows=(row(1, "P", "7000", "1.90"),),
            filed=date(2026, 2, 3),
        ),
    ]
