"""A generative EDGAR for the scale bench: indexes and submissions made on request, not stored.

``python -m bench.synthetic_edgar --from 2021-01-04 --per-day 1000 --days 1000 --port-file F``
serves, on 127.0.0.1, the quarterly ``Archives/edgar/full-index/{YYYY}/QTR{q}/form.idx`` of
``--per-day`` Form 4s on each of ``--days`` business days, and each listed
``Archives/edgar/data/{cik}/{accession}.txt`` cloned on request from a corpus template (round
robin, with the accession and filing date rewritten). Accession ``0009999999-{yy}-{n:06d}`` is the
n-th filing of that year in the range, so the day of a filing follows from its number: nothing is
kept per filing and a million-filing backfill costs the server no memory. It writes its port to
``--port-file`` once listening, and runs until killed. Used by ``bench/scale.py``.
"""

from __future__ import annotations

import argparse
import re
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import templates
from form4.flows.pipeline.ingest import business_days
from tests.edgar_tree import clone_submission, read_header

AGENT = "0009999999"
_FULL_INDEX = re.compile(r"/Archives/edgar/full-index/(\d{4})/QTR([1-4])/form\.idx")
_SUBMISSION = re.compile(r"/Archives/edgar/data/\d+/(\d{10})-(\d{2})-(\d{6})\.txt")
_HEADER = (
    "Description:           Master Index of EDGAR Dissemination Feed by Form Type\n"
    "Last Data Received:    (synthetic)\n"
    "Comments:              webmaster@sec.gov\n"
    "Anonymous FTP:         ftp://ftp.sec.gov/edgar/\n \n \n \n \n"
    "Form Type   Company Name                                                  CIK         "
    "Date Filed  File Name\n" + "-" * 141 + "\n"
)


class SyntheticEdgar:
    """The days, the templates and how to make any index or submission of the range."""

    def __init__(self, start: date, days: int, per_day: int) -> None:
        self.templates = templates()
        self.facts = [read_header(t) for t in self.templates]
        self.per_day = per_day
        self.days: list[date] = []
        day = start
        while len(self.days) < days:
            chunk = business_days(day, date(day.year, 12, 31))
            self.days += chunk[: days - len(self.days)]
            day = date(day.year + 1, 1, 1)
        self.by_year: dict[int, list[date]] = {}
        for d in self.days:
            self.by_year.setdefault(d.year, []).append(d)
        if max(len(v) for v in self.by_year.values()) * per_day > 999_999:
            raise SystemExit("too many filings in one year for six-digit accession numbers")

    def quarterly_index(self, year: int, quarter: int) -> bytes:
        rows = [_HEADER]
        for n, day in enumerate(self.by_year.get(year, [])):
            if (day.month - 1) // 3 + 1 != quarter:
                continue
            for k in range(self.per_day):
                seq = n * self.per_day + k + 1
                facts = self.facts[seq % len(self.facts)]
                cik = str(int(facts.ciks[-1]))
                accession = f"{AGENT}-{day:%y}-{seq:06d}"
                rows.append(
                    f"{'4':<12}{'Synthetic Issuer':<62}{cik:<12}{day:%Y-%m-%d}  "
                    f"edgar/data/{cik}/{accession}.txt\n"
                )
        return "".join(rows).encode()

    def submission(self, yy: str, seq: int) -> bytes | None:
        days = self.by_year.get(2000 + int(yy), [])
        n = (seq - 1) // self.per_day
        if seq < 1 or n >= len(days):
            return None
        template = self.templates[seq % len(self.templates)]
        return clone_submission(template, accession=f"{AGENT}-{yy}-{seq:06d}", filed=days[n])

    def reply(self, path: str) -> bytes | None:
        if m := _FULL_INDEX.fullmatch(path):
            return self.quarterly_index(int(m[1]), int(m[2]))
        if (m := _SUBMISSION.fullmatch(path)) and m[1] == AGENT:
            return self.submission(m[2], int(m[3]))
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = self.server.edgar.reply(self.path.split("?", 1)[0])
        status = 200 if body is not None else 404
        body = body if body is not None else b"404 Not Found\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, edgar: SyntheticEdgar) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.edgar = edgar


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    ap.add_argument("--days", type=int, required=True)
    ap.add_argument("--per-day", type=int, default=1000)
    ap.add_argument("--port-file", type=Path, required=True)
    args = ap.parse_args()
    server = _Server(SyntheticEdgar(args.start, args.days, args.per_day))
    tmp = args.port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
