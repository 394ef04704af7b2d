"""Data set import: rows per second and peak RSS for one quarter at real sizes, and a synthetic
history's requests, wall time and peak RSS: ``python -m bench.datasets [--quick]``.

The quarter is the real 2024 Q3 files (../shared/datasets/2024q3) repeated under new accession
numbers up to ``--submissions`` (80,000 by default; 2024 Q3 has 36,075), plus the three tables
the shared copy lacks at the rates below (NONDERIV_TRANS 2.5, REPORTINGOWNER 1.1 and FOOTNOTES
3.0 rows per submission; the corpus's 327 filings average 2.5, 1.1 and 4.6, and are larger
filers than the average). Footnote texts are the corpus's real ones, their numbers redrawn per
filing, so that footnotes with numbers are distinct, as on EDGAR, and boilerplate without
numbers recurs; transaction codes are drawn at the corpus's frequencies. The import runs in
a child process; its peak RSS is its own high-water mark (``VmHWM``).

The history (``--quarters`` quarters of ``--history-submissions`` each, 80 x 54,000 by default:
the 4.5 million filings since 2006 spread over the quarters) is written as a directory tree,
served by the loopback EDGAR and imported by ``form4 backfill --datasets first..last`` as a
user runs it (the console script, Prefect, the polite client at 10 requests a second); the
server counts the requests, the bench polls the command's processes for their peak RSS.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import CORPUS, ROOT, emit

REAL = ROOT.parent / "shared" / "datasets" / "2024q3"
RATES = {"NONDERIV_TRANS": 2.5, "REPORTINGOWNER": 1.1, "FOOTNOTES": 3.0}
CHILD = """
import json, re, resource, sys, time
from pathlib import Path
from form4.parsers.dataset_index import Quarter
from form4.warehouse.datasets import import_quarter
from form4.warehouse.db import Warehouse
with Warehouse(sys.argv[1], memory_mb=512) as wh:
    start = time.perf_counter()
    result = import_quarter(wh, Path(sys.argv[2]), Quarter(2024, 3))
    seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rows_in": sum(result.rows.values()),
                  "submissions": result.submissions, "loaded": result.loaded,
                  "rss_mb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())
                                [1]) / 1024,
                  "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}))
"""


# a number standing alone (amounts, share counts, dates), not one inside a rule's name such as
# "10b5-1" or "16b-3"
_NUMBER = re.compile(r"(?<![\w.-])\$?\d[\d,]*(?:\.\d+)?(?![\w-])")


@functools.cache
def corpus_texture() -> tuple[list[str], list[str]]:
    """The real corpus's footnote texts (whitespace folded) and its Table I transaction codes,
    one per row (so drawing from it draws codes at the corpus's frequencies)."""
    from form4.parsers.ownership import parse_ownership

    texts: list[str] = []
    codes: list[str] = []
    for path in sorted(CORPUS.glob("real/xml/*.xml")) + sorted(CORPUS.glob("xml/*.xml")):
        try:
            doc = parse_ownership(path.read_bytes())
        except Exception:  # noqa: BLE001 - a corpus file form4 rejects adds no texture
            continue
        texts += [" ".join(note.text.split()) for note in doc.footnotes if note.text.strip()]
        codes += [t.transaction_code for t in doc.transactions if t.transaction_code]
    if not texts:
        raise SystemExit(f"no corpus footnotes: is the corpus at {CORPUS}?")
    return texts, codes


def _vary(text: str, rng: random.Random) -> str:
    """A real footnote with its numbers (prices, share counts, dates) redrawn, digit by digit:
    a filing's footnotes are its own, as on EDGAR, while the boilerplate without numbers (trusts,
    plans) recurs word for word."""
    return _NUMBER.sub(
        lambda m: "".join(str(rng.randint(1, 9)) if c.isdigit() else c for c in m.group(0)),
        text,
    )


_DATE = re.compile(r"\b(\d{1,2})-([A-Z]{3})-(\d{4})\b")


def _date_mover(days: int) -> Callable[[str], str]:
    """A function moving every DD-MON-YYYY date of a line by ``days`` (each date parsed once)."""

    @functools.cache
    def one(text: str) -> str:
        day = datetime.strptime(text.title(), "%d-%b-%Y").date() + timedelta(days=days)
        return day.strftime("%d-%b-%Y").upper()

    def line(text: str) -> str:
        return _DATE.sub(lambda m: one(m.group(0)), text) if days else text

    return line


def _accession(n: int) -> str:
    return f"{9_000_000_000 + n // 1_000_000:010d}-24-{n % 1_000_000:06d}"


def synthesize(
    submissions: int, target: Path, seed: int = 16, offset: int = 0, shift_days: int = 0
) -> dict[str, int]:
    """Write a quarter's ZIP of ``submissions`` submissions (accession numbers from
    ``offset``, every date of the copied real rows moved by ``shift_days``: the quarters of a
    history file, report and trade on their own dates); rows per member."""
    from tests.dataset_zip import metadata_columns, tsv

    rng = random.Random(seed)
    moved = _date_mover(shift_days)
    real_subs = (REAL / "SUBMISSION.tsv").read_text().splitlines()
    header, body = real_subs[0], real_subs[1:]
    real_accs = [line.split("\t", 1)[0] for line in body]
    rows: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        # SUBMISSION and the four real child tables, repeated under new accession numbers
        copies = -(-submissions // len(body))
        for name in (
            "SUBMISSION",
            "DERIV_TRANS",
            "DERIV_HOLDING",
            "NONDERIV_HOLDING",
            "OWNER_SIGNATURE",
        ):
            lines = (REAL / f"{name}.tsv").read_text().splitlines()
            out = [lines[0]]
            index = {acc: i for i, acc in enumerate(real_accs)}
            for copy in range(copies):
                for line in lines[1:]:
                    acc, rest = line.split("\t", 1)
                    n = copy * len(body) + index.get(acc, 0)
                    if n < submissions:
                        out.append(f"{_accession(n + offset)}\t{moved(rest)}")
            rows[name] = len(out) - 1
            archive.writestr(f"{name}.tsv", "\n".join(out) + "\n")
        cols = metadata_columns()
        texts, codes = corpus_texture()
        owners, trans, foots = [], [], []
        sk = 10_000_000
        for n in range(submissions):
            acc = _accession(n + offset)
            for k in range(2 if rng.random() < RATES["REPORTINGOWNER"] - 1 else 1):
                owners.append(
                    {
                        "ACCESSION_NUMBER": acc,
                        "RPTOWNERCIK": f"{1_000_000 + n * 2 + k:010d}",
                        "RPTOWNERNAME": f"Owner {n}",
                        "RPTOWNER_RELATIONSHIP": "Director,Officer",
                        "RPTOWNER_TITLE": "Chief Financial Officer",
                        "RPTOWNER_STREET1": "1 Main St",
                        "RPTOWNER_CITY": "Springfield",
                        "RPTOWNER_STATE": "IL",
                        "RPTOWNER_ZIPCODE": "62701",
                    }
                )
            count = int(RATES["FOOTNOTES"]) + (rng.random() < RATES["FOOTNOTES"] % 1)
            for i in range(count):
                foots.append(
                    {
                        "ACCESSION_NUMBER": acc,
                        "FOOTNOTE_ID": f"F{i + 1}",
                        "FOOTNOTE_TXT": _vary(rng.choice(texts), rng),
                    }
                )
            count = int(RATES["NONDERIV_TRANS"]) + (rng.random() < RATES["NONDERIV_TRANS"] % 1)
            for _ in range(count):
                sk += 1
                trans.append(
                    {
                        "ACCESSION_NUMBER": acc,
                        "NONDERIV_TRANS_SK": sk,
                        "SECURITY_TITLE": "Common Stock",
                        "TRANS_DATE": moved("15-AUG-2024"),
                        "TRANS_FORM_TYPE": "4",
                        "TRANS_CODE": rng.choice(codes),
                        "EQUITY_SWAP_INVOLVED": "0",
                        "TRANS_SHARES": f"{rng.randint(1, 90000)}.0",
                        "TRANS_PRICEPERSHARE": f"{rng.randint(100, 20000) / 100}",
                        "TRANS_PRICEPERSHARE_FN": "F1",
                        "TRANS_ACQUIRED_DISP_CD": "D",
                        "SHRS_OWND_FOLWNG_TRANS": f"{rng.randint(1, 900000)}.0",
                        "SHRS_OWND_FOLWNG_TRANS_FN": "F2, F3",
                        "DIRECT_INDIRECT_OWNERSHIP": "D",
                    }
                )
        for name, data in (
            ("REPORTINGOWNER", owners),
            ("NONDERIV_TRANS", trans),
            ("FOOTNOTES", foots),
        ):
            archive.writestr(f"{name}.tsv", tsv(cols[name], data))
            rows[name] = len(data)
        del header
    return rows


def import_quarter_bench(submissions: int, work: Path, repeat: int = 3) -> dict[str, float | int]:
    zip_path = work / "2024q3_form345.zip"
    started = time.perf_counter()
    rows = synthesize(submissions, zip_path)
    made = time.perf_counter() - started
    total = sum(rows.values())
    print(
        f"synthesized {submissions:,} submissions, {total:,} rows, "
        f"{zip_path.stat().st_size / 1e6:.0f} MB ZIP in {made:.0f}s: {rows}"
    )
    runs = []
    for n in range(repeat):  # each a new process and a new warehouse
        db = work / f"q{n}.duckdb"
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(db), str(zip_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        for leftover in work.glob(db.name + "*"):
            leftover.unlink()
    # the median run: the first after a pause is the slowest on a virtual machine that hands
    # its free memory back to the host (fresh pages cost more to fault in)
    figures = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
    rate = total / figures["seconds"]
    times = ", ".join(f"{r['seconds']:.2f}" for r in runs)
    print(
        f"import: {figures['seconds']:.2f}s (median of {len(runs)}: {times}) = {rate:,.0f} rows/s "
        f"(all {total:,} rows read), {figures['rows_in']:,} rows written, peak RSS "
        f"{max(r['rss_mb'] for r in runs):.0f} MB, CPU {figures['cpu_s']:.1f}s (the child's "
        f"whole life, start-up included)"
    )
    return {
        "dataset_submissions": submissions,
        "dataset_rows": total,
        "dataset_import_s": figures["seconds"],
        "dataset_import_slowest_s": max(r["seconds"] for r in runs),
        "dataset_rows_per_s": rate,
        "dataset_rows_per_s_slowest": total / max(r["seconds"] for r in runs),
        "dataset_peak_rss_mb": max(r["rss_mb"] for r in runs),
        "dataset_cpu_s": figures["cpu_s"],
        "dataset_zip_mb": zip_path.stat().st_size / 1e6,
    }


def _synthesize_quarter(job: tuple[int, int, int, str]) -> str:
    index, quarters, submissions, target = job
    # the last quarter on the real files' dates (2024 Q3), each earlier one a quarter before
    shift = -round((quarters - 1 - index) * 91.3)
    synthesize(submissions, Path(target), seed=index, offset=index * submissions, shift_days=shift)
    return target


def _peak_rss_mb(root: int) -> float:
    """The largest ``VmHWM`` among ``root`` and its descendants now (0 once they are gone)."""
    peak = 0
    pids = [root]
    while pids:
        pid = pids.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        found = re.search(r"VmHWM:\s+(\d+)", status)
        peak = max(peak, int(found[1]) if found else 0)
        pids += [int(c) for c in children]
    return peak / 1024


def history_bench(quarters: int, submissions: int, work: Path) -> dict[str, float | int]:
    """``quarters`` quarters imported by ``form4 backfill --datasets`` over the loopback EDGAR."""
    from concurrent.futures import ProcessPoolExecutor

    from form4.parsers.dataset_index import Quarter
    from tests.dataset_zip import INDEX_PATH, index_page
    from tests.edgar_server import FaultyEdgar

    labels = []
    q = Quarter(2006, 1)
    for _ in range(quarters):
        labels.append(q.label)
        q = q.next()
    tree = work / "tree"
    (tree / "files").mkdir(parents=True)
    started = time.perf_counter()
    jobs = [  # distinct accessions and dates in every quarter: the warehouse grows
        (i, quarters, submissions, str(tree / "files" / f"{label}_form345.zip"))
        for i, label in enumerate(labels)
    ]
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_synthesize_quarter, jobs))
    zip_mb = sum(Path(j[3]).stat().st_size for j in jobs) / 1e6
    page = tree / INDEX_PATH
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_bytes(index_page({label: f"/files/{label}_form345.zip" for label in labels}))
    print(
        f"synthesized {quarters} quarters of {submissions:,} submissions "
        f"({zip_mb:,.0f} MB of ZIPs) in {time.perf_counter() - started:.0f}s"
    )
    db = work / "history.duckdb"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(work),
        "PYTHONPATH": str(ROOT),
        "PREFECT_HOME": str(work / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "SEC_USER_AGENT": "form4 bench bench@form4.example",
        "FORM4_RATE_DIR": str(work / "rate"),
        "FORM4_RAW_DIR": str(work / "raw"),
    }
    with FaultyEdgar(tree) as srv:
        cmd = [
            sys.executable, "-m", "form4.flows.cli", "backfill",
            "--datasets", f"{labels[0]}..{labels[-1]}",
            "--db", str(db), "--edgar-url", srv.base_url,
        ]  # fmt: skip
        started = time.perf_counter()
        child = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        peak = 0.0
        while child.poll() is None:
            peak = max(peak, _peak_rss_mb(child.pid))
            time.sleep(0.2)  # a sampling interval, not a wait for a result
        out, err = child.communicate()
        seconds = time.perf_counter() - started
        requests = len(srv.requests)
    if child.returncode != 0:
        raise SystemExit(f"form4 backfill failed ({child.returncode}):\n{err[-3000:]}")
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        filings = con.execute("SELECT count(*) FROM filings").fetchone()
        rows = con.execute('SELECT sum("rows") FROM dataset_quarters').fetchone()
    finally:
        con.close()
    done = out.count(": done:")
    print(
        f"history: {quarters} quarters, {done} done, {requests} requests, {seconds / 60:.1f} min "
        f"wall ({seconds:.0f}s), {filings[0] if filings else 0:,} filings, "
        f"{rows[0] if rows else 0:,} rows written, peak RSS {peak:.0f} MB, "
        f"warehouse {db.stat().st_size / 1e9:.1f} GB"
    )
    return {
        "history_quarters": quarters,
        "history_submissions_each": submissions,
        "history_requests": requests,
        "history_s": seconds,
        "history_peak_rss_mb": peak,
        "history_done": done,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="20,000 submissions; 4 x 2,000")
    ap.add_argument("--submissions", type=int, default=80_000)
    ap.add_argument("--quarters", type=int, default=80)
    ap.add_argument("--history-submissions", type=int, default=54_000)
    ap.add_argument("--no-history", action="store_true", help="the one quarter only")
    ap.add_argument("--repeat", type=int, default=3, help="imports of the quarter (median)")
    args = ap.parse_args()
    if args.quick:
        args.submissions, args.quarters, args.history_submissions = 20_000, 4, 2_000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        figures = import_quarter_bench(args.submissions, work, args.repeat)
        if not args.no_history:
            figures |= history_bench(args.quarters, args.history_submissions, work)
    emit(figures)


if __name__ == "__main__":
    main()
