"""``form4 demo``: the real ingest flow against a loopback EDGAR mirror of bundled sample data.

The sample days (``flows/sample_data``, fictional issuers and insiders written for form4) are
served by ``flows.cli.mirror.EdgarMirror`` on 127.0.0.1; the demo runs the same Prefect flow as
``form4 ingest`` against it (same rate limiter, raw store, parser and loader), then prints what
landed. No network is used. Neighbours: ``flows.cli.main``, ``flows.ingest_flow``,
``flows.cli.mirror``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TextIO

from form4.flows.cli.mirror import EdgarMirror, max_requests_in_any_window
from form4.flows.cli.output import open_read_only, print_ingest_summary, run_sql
from form4.flows.config import Settings
from form4.parsers.errors import Form4Error
from form4.warehouse.insider_report import build_report, render_text

__all__ = ["DEMO_END", "DEMO_START", "SAMPLE_DATA", "run_demo"]

SAMPLE_DATA = Path(__file__).resolve().parents[1] / "sample_data"
DEMO_START = date(2026, 2, 2)
DEMO_END = date(2026, 2, 4)
DEMO_USER_AGENT = "form4 demo demo@form4.example"

_DEMO_QUERY = """
select f.issuer_ticker as ticker, o.owner_name as insider, t.transaction_code as code,
       t.category, if(t.is_derivative, 'II', 'I') as "table",
       t.shares_delta::DECIMAL(18, 2) as shares_delta, t.price_per_share::DECIMAL(18, 4) as price
from transactions t
join filings f using (accession_number)
join reporting_owners o using (accession_number)
order by ticker, insider, t.is_derivative, t.line_no
"""


def run_demo(db: str, env: Mapping[str, str], out: TextIO) -> None:
    from form4.flows.ingest_flow import run_ingest_flow

    demo_env = dict(env)
    demo_env.setdefault("SEC_USER_AGENT", DEMO_USER_AGENT)
    with EdgarMirror(SAMPLE_DATA) as mirror:
        settings = Settings.from_env(demo_env, db_path=db, edgar_url=mirror.base_url)
        out.write(f"form4 demo: serving {SAMPLE_DATA} at {mirror.base_url}\n")
        state = run_ingest_flow(
            env,
            start=DEMO_START,
            end=DEMO_END,
            forms=list(settings.forms),
            db=str(settings.db_path),
            edgar_url=settings.edgar_url,
            user_agent=settings.user_agent,
        )
        requests = mirror.requests
    if state.is_failed():
        raise Form4Error(state.message or "the demo ingest failed")
    print_ingest_summary(state.result(), settings, out)
    peak = max_requests_in_any_window([r.time for r in requests])
    out.write(
        f"  mirror served {len(requests)} requests, at most {peak} in any one-second window "
        f"(limit {settings.max_rps:g}/s)\n\n"
    )
    run_sql(settings.db_path, _DEMO_QUERY, "table", out)
    out.write(f"\n$ form4 report --issuer NWTX --date {DEMO_START} --db {settings.db_path}\n")
    con = open_read_only(settings.db_path)
    try:
        out.write(render_text(build_report(con, "NWTX", DEMO_START, DEMO_START)))
    finally:
        con.close()
    out.write(f'\nQuery it yourself: form4 sql --db {settings.db_path} "select * from filings"\n')
