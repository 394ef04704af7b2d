"""The ``form4`` command line: ``ingest``, ``backfill``, ``reprocess``, ``verify``, ``report``,
``export``, ``sql``, ``watch``, ``mirror`` and ``demo``.

Each subcommand parses its arguments, builds ``Settings`` once, and calls a flow or a
warehouse function; every expected error (bad argument, missing User-Agent, EDGAR
unreachable, database locked) is printed as one ``form4: error: ...`` line with a non-zero
exit code, never a traceback. Neighbours: ``flows.ingest_flow`` (the Prefect flow),
``flows.cli.demo`` (the offline demo), ``warehouse.db`` (the DuckDB file).
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import date
from types import FrameType
from typing import TYPE_CHECKING, NoReturn, TextIO

from form4.flows.cli.output import open_read_only, require_warehouse
from form4.flows.config import Settings, check_day, check_text, parse_date, parse_forms
from form4.parsers.dataset_index import QuarterSpec, parse_quarters
from form4.parsers.errors import ConfigError, Form4Error

if TYPE_CHECKING:
    import httpx

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line instead of usage + message."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"form4: error: {message} (see '{self.prog} --help')\n")


def _date_arg(text: str) -> date:
    try:
        return parse_date(check_text(text, "the date"))
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 86400):
        raise argparse.ArgumentTypeError(f"seconds {text!r} must be between 0 and 86400")
    return value


def _edgar_days(*days: tuple[str, date | None]) -> None:
    """Days to fetch from EDGAR: 1993-01-01 (its first electronic filings) to tomorrow."""
    for what, day in days:
        if day is not None:
            check_day(day, what)


def _cik_arg(text: str) -> str:
    digits = text.strip()
    if not digits.isdigit() or len(digits) > 10:
        raise argparse.ArgumentTypeError(f"invalid CIK {text!r} (up to 10 digits)")
    return digits.zfill(10)


def _forms_arg(text: str) -> tuple[str, ...]:
    try:
        return parse_forms(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quarters_arg(text: str) -> QuarterSpec:
    try:
        return parse_quarters(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="DuckDB file (default $FORM4_DB or ./form4.duckdb)")


def _edgar_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that reads EDGAR."""
    parser.add_argument(
        "--forms", type=_forms_arg, help="form types, comma-separated (default 4,4/A)"
    )
    _db_option(parser)
    parser.add_argument("--user-agent", help="declared User-Agent (default $SEC_USER_AGENT)")
    parser.add_argument(
        "--edgar-url", help="EDGAR base URL (default $FORM4_EDGAR_URL or https://www.sec.gov)"
    )


def form4_version() -> str:
    """The installed distribution's version (``pyproject.toml``), e.g. ``0.1.0``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("form4")
    except PackageNotFoundError:  # a checkout on sys.path without an install
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="form4",
        description="SEC EDGAR insider transactions (Forms 3, 4, 5) into DuckDB.",
    )
    parser.add_argument("--version", action="version", version=f"form4 {form4_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ingest = sub.add_parser(
        "ingest",
        help="fetch a day (or range) of filings from EDGAR into the warehouse",
        description=(
            "Without --date: every business day after the last one ingested up to today "
            "(America/New_York), plus days left pending and filings that failed before."
        ),
    )
    ingest.add_argument("--date", type=_date_arg, help="first (or only) day, YYYY-MM-DD")
    ingest.add_argument("--to", type=_date_arg, help="last day of a range, YYYY-MM-DD")
    _edgar_options(ingest)

    backfill = sub.add_parser(
        "backfill",
        help="load a range of days, every ownership filing of one CIK, or quarterly data sets",
        description=(
            "--from/--to: every business day of the range, over a finished quarter's full index "
            "where that needs fewer requests, else the daily indexes. --cik: every ownership "
            "filing listed in data.sec.gov/submissions/CIK##########.json and its pages. "
            "--datasets: quarters of the SEC's Insider Transactions Data Sets (2006q1..2026q3, "
            "latest, or new: every published quarter not imported yet), one request each."
        ),
    )
    backfill.add_argument("--from", dest="start", type=_date_arg, help="first day, YYYY-MM-DD")
    backfill.add_argument("--to", dest="end", type=_date_arg, help="last day, YYYY-MM-DD")
    backfill.add_argument("--cik", type=_cik_arg, help="an issuer's or insider's CIK")
    backfill.add_argument(
        "--datasets",
        metavar="QUARTERS",
        type=_quarters_arg,
        help="data set quarters: 2024q3, 2006q1..2026q3, latest or new",
    )
    _edgar_options(backfill)
    backfill.add_argument(
        "--data-url",
        help="submissions JSON base URL (default $FORM4_DATA_URL or https://data.sec.gov)",
    )

    reprocess = sub.add_parser(
        "reprocess",
        help="parse stored raw submissions again (no network), e.g. after a parser fix",
        description=(
            "Re-parse every stored submission, those listed on days --date..--to, or with "
            "--rejects only the current rejects, and reload them."
        ),
    )
    reprocess.add_argument("--date", type=_date_arg, help="first index day, YYYY-MM-DD")
    reprocess.add_argument("--to", type=_date_arg, help="last index day, YYYY-MM-DD")
    reprocess.add_argument("--rejects", action="store_true", help="only the current rejects")
    reprocess.add_argument(
        "--datasets",
        metavar="QUARTERS",
        type=_quarters_arg,
        help="instead: import again the kept data set ZIPs (all, or 2024q3 / 2006q1..2024q4)",
        nargs="?",
        const=QuarterSpec(keyword="all"),
    )
    _db_option(reprocess)

    verify = sub.add_parser(
        "verify",
        help="compare filings held from XML with a quarter's data set, field by field",
        description=(
            "For every accession held from XML that the quarter's data set also holds, compare "
            "every field of every row; differences go to table source_differences and a "
            "summary by field is printed. The SEC's rounding and whitespace are counted apart."
        ),
    )
    verify.add_argument(
        "--datasets",
        metavar="QUARTERS",
        type=_quarters_arg,
        required=True,
        help="quarter(s) to compare: 2024q3 or 2024q1..2024q4",
    )
    _db_option(verify)
    verify.add_argument(
        "--user-agent",
        help="declared User-Agent, when a ZIP must be fetched (default $SEC_USER_AGENT)",
    )
    verify.add_argument(
        "--edgar-url", help="EDGAR base URL (default $FORM4_EDGAR_URL or https://www.sec.gov)"
    )

    report = sub.add_parser(
        "report",
        help="insider activity of one issuer over a period (who sold, bought, was granted what)",
        description=(
            "Per insider and in total: shares sold (sell-to-cover vs discretionary), tax "
            "withheld, bought, options/RSUs/other awarded, exercised, with the accession "
            "numbers behind each figure, and a plain-English summary. The period is the "
            "filing date."
        ),
    )
    report.add_argument("--issuer", required=True, help="ticker (e.g. NWTX) or CIK")
    report.add_argument("--date", type=_date_arg, required=True, help="first filing day")
    report.add_argument("--to", type=_date_arg, help="last filing day (default: --date)")
    report.add_argument(
        "--format", choices=("text", "md", "json"), default="text", help="output format"
    )
    _db_option(report)

    export = sub.add_parser(
        "export",
        help="write the warehouse as Hive-partitioned Parquet (filing_year=/filing_month=)",
        description=(
            "Writes every data table (and rejects without their raw bytes) and every view "
            "(transactions_current, the analyst views) under DIR, one file per table and "
            "filing month; only months changed since the last export to DIR are rewritten, "
            "each atomically. DIR may be s3://bucket/prefix (AWS credentials from the "
            "environment, AWS_ENDPOINT_URL for an S3-compatible server). --from/--to limit "
            "it to the months they overlap."
        ),
    )
    export.add_argument(
        "--parquet",
        required=True,
        metavar="DIR",
        help="target directory, or s3://bucket/prefix",
    )
    export.add_argument("--from", dest="start", type=_date_arg, help="first filing day")
    export.add_argument("--to", dest="end", type=_date_arg, help="last filing day")
    _db_option(export)

    sql = sub.add_parser(
        "sql",
        help="run a read-only SQL query against the warehouse and print the result",
        description=(
            "Runs one statement in a sandbox: no file access (COPY ... TO, EXPORT, ATTACH, "
            "INSTALL/LOAD, read_csv of local files are refused), DuckDB's memory limit "
            "($FORM4_DUCKDB_MEMORY_MB) and a time limit ($FORM4_SQL_TIMEOUT_S, --timeout). "
            "--allow-files lifts the file restrictions and runs several statements, printing "
            "each result."
        ),
    )
    sql.add_argument("query", help="SQL text, or - to read it from standard input")
    _db_option(sql)
    sql.add_argument(
        "--format", choices=("table", "csv", "json"), default="table", help="output format"
    )
    sql.add_argument(
        "--allow-files",
        action="store_true",
        help="allow file access (COPY ... TO, read_csv, ...) and several statements",
    )
    sql.add_argument(
        "--timeout",
        type=_seconds_arg,
        metavar="SECONDS",
        help="interrupt the query after this long (default $FORM4_SQL_TIMEOUT_S or 60; 0: never)",
    )

    watch = sub.add_parser(
        "watch",
        help="load new filings within minutes, from EDGAR's latest-filings feed",
        description=(
            "Polls EDGAR's latest-filings Atom feed for each form family of --forms every "
            "--every seconds and loads each new filing through the same client and pipeline as "
            "'form4 ingest'. Runs on business days 06:00-22:30 America/New_York (waits outside "
            "them) unless --always. Ctrl-C stops it between batches."
        ),
    )
    watch.add_argument(
        "--every", type=float, default=60.0, help="seconds between polls (default 60, min 10)"
    )
    watch.add_argument(
        "--always", action="store_true", help="poll at any hour and day, not only 06:00-22:30 ET"
    )
    _edgar_options(watch)
    mirror = sub.add_parser(
        "mirror",
        help="serve an EDGAR-shaped folder (default: the bundled sample days) on 127.0.0.1",
        description=(
            "A loopback EDGAR mirror for trying a deployment offline: point a worker at it "
            "with FORM4_EDGAR_URL. Serves until interrupted."
        ),
    )
    mirror.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    mirror.add_argument(
        "--dir", dest="root", help="folder laid out as EDGAR's URL paths (default: sample days)"
    )

    demo = sub.add_parser(
        "demo", help="ingest the bundled sample day from a loopback EDGAR mirror (no network)"
    )
    demo.add_argument(
        "--db", default="form4-demo.duckdb", help="DuckDB file (default ./form4-demo.duckdb)"
    )
    return parser


def _check_range(start: date | None, end: date | None) -> None:
    if end is not None and start is None:
        raise ConfigError("--to needs --date")
    if end is not None and start is not None and end < start:
        raise ConfigError(f"--to {end} is before --date {start}")


def _cmd_ingest(args: argparse.Namespace, out: TextIO) -> int:
    _check_range(args.date, args.to)
    _edgar_days(("--date", args.date), ("--to", args.to))
    settings = Settings.from_env(
        os.environ,
        user_agent=args.user_agent,
        db_path=args.db,
        edgar_url=args.edgar_url,
        forms=args.forms,
    )
    from form4.flows.cli.output import print_ingest_summary
    from form4.flows.ingest_flow import run_ingest_flow  # Prefect is imported only when a flow runs

    state = run_ingest_flow(
        os.environ,
        start=args.date,
        end=args.to,
        forms=list(settings.forms),
        db=str(settings.db_path),
        edgar_url=settings.edgar_url,
        user_agent=settings.user_agent,
    )
    if state.is_failed():
        raise Form4Error(state.message or "the ingest flow failed")
    print_ingest_summary(state.result(), settings, out)
    return 0


def _cmd_backfill(args: argparse.Namespace, out: TextIO) -> int:
    if args.start is None and args.cik is None and args.datasets is None:
        raise ConfigError("backfill needs --from (and --to), --cik or --datasets")
    if args.end is not None and args.start is None:
        raise ConfigError("--to needs --from")
    _check_range(args.start, args.end)
    _edgar_days(("--from", args.start), ("--to", args.end))
    settings = Settings.from_env(
        os.environ,
        user_agent=args.user_agent,
        db_path=args.db,
        edgar_url=args.edgar_url,
        data_url=args.data_url,
        forms=args.forms,
    )
    from form4.flows.cli.output import print_backfill_summary
    from form4.flows.ingest_flow import backfill, run_flow

    state = run_flow(
        backfill,
        os.environ,
        start=args.start,
        end=args.end,
        cik=args.cik,
        forms=list(settings.forms),
        db=str(settings.db_path),
        edgar_url=settings.edgar_url,
        data_url=settings.data_url,
        user_agent=settings.user_agent,
        datasets=_spec_text(args.datasets),
    )
    if state.is_failed():
        raise Form4Error(state.message or "the backfill flow failed")
    summary = state.result()
    print_backfill_summary(summary, settings, out)
    if summary.datasets is not None and summary.datasets.failed:
        return EXIT_ERROR
    return 0


def _spec_text(spec: QuarterSpec | None) -> str | None:
    """A QuarterSpec back to the flow parameter's text (flow parameters stay plain)."""
    if spec is None:
        return None
    if spec.keyword is not None:
        return spec.keyword
    return f"{spec.first}..{spec.last}"


def _cmd_verify(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.cli.output import print_audit
    from form4.flows.edgar.client import build_client
    from form4.flows.edgar.datasets import fetch_dataset_links
    from form4.flows.pipeline.datasets import verify_dataset_quarter
    from form4.flows.pipeline.ingest import open_warehouse
    from form4.warehouse.dataset_audit import AuditResult

    spec: QuarterSpec = args.datasets
    if spec.keyword is not None:
        raise ConfigError("verify --datasets takes quarters (2024q3 or 2024q1..2024q4)")
    settings = Settings.from_env(
        os.environ,
        user_agent=args.user_agent,
        db_path=args.db,
        edgar_url=args.edgar_url,
        require_user_agent=False,
    )
    require_warehouse(settings.db_path)

    def client() -> httpx.Client:  # only when a ZIP is not kept: then the User-Agent is needed
        return build_client(
            Settings.from_env(
                os.environ, user_agent=args.user_agent, db_path=args.db, edgar_url=args.edgar_url
            )
        )

    failed = 0
    with open_warehouse(settings) as warehouse:
        for quarter in spec.quarters():
            result = verify_dataset_quarter(
                quarter,
                settings=settings,
                warehouse=warehouse,
                client_factory=client,
                links=fetch_dataset_links,
            )
            if isinstance(result, AuditResult):
                print_audit(result, out)
            else:
                out.write(f"form4: {quarter}: {result.status}: {result.message}\n")
                failed += result.status == "failed"
    return EXIT_ERROR if failed else 0


def _cmd_reprocess(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.cli.output import print_flagged
    from form4.flows.pipeline.ingest import open_warehouse
    from form4.flows.pipeline.reprocess import reprocess
    from form4.warehouse.raw import RawStore

    _check_range(args.date, args.to)
    settings = Settings.from_env(os.environ, db_path=args.db, require_user_agent=False)
    require_warehouse(settings.db_path)
    if args.datasets is not None:
        return _reprocess_datasets(args.datasets, settings, out)
    with open_warehouse(settings) as warehouse:
        result = reprocess(
            settings,
            warehouse=warehouse,
            raw=RawStore(settings.raw_root),
            start=args.date,
            end=args.to or args.date,
            rejects_only=args.rejects,
        )
    batch = result.batch
    out.write(
        f"form4: reprocessed {result.selected} stored filings: {batch.loaded} loaded, "
        f"{batch.rejected} rejected, {result.missing_raw} without a raw copy\n"
    )
    print_flagged(batch, out)
    for reason in batch.reject_reasons:
        out.write(f"  rejected {reason}\n")
    return 0


def _reprocess_datasets(spec: QuarterSpec, settings: Settings, out: TextIO) -> int:
    from form4.flows.cli.output import print_dataset_outcomes
    from form4.flows.pipeline.datasets import reprocess_datasets
    from form4.flows.pipeline.ingest import open_warehouse

    if spec.keyword not in (None, "all"):
        raise ConfigError("reprocess --datasets takes quarters, or nothing for all kept ZIPs")
    with open_warehouse(settings) as warehouse:
        outcomes = reprocess_datasets(None if spec.keyword == "all" else spec, warehouse=warehouse)
    out.write(f"form4: imported {len(outcomes)} kept data set quarters again\n")
    print_dataset_outcomes(outcomes, out)
    return EXIT_ERROR if any(o.status == "failed" for o in outcomes) else 0


def _cmd_report(args: argparse.Namespace, out: TextIO) -> int:
    from form4.warehouse.insider_report import (
        build_report,
        render_json,
        render_markdown,
        render_text,
    )

    _check_range(args.date, args.to)
    issuer = check_text(args.issuer, "--issuer")
    settings = Settings.from_env(os.environ, db_path=args.db, require_user_agent=False)
    con = open_read_only(settings.db_path, settings.wait_s(writer=False))
    try:
        report = build_report(con, issuer, args.date, args.to or args.date)
    finally:
        con.close()
    render = {"text": render_text, "md": render_markdown, "json": render_json}[args.format]
    out.write(render(report))
    return 0


def _cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.pipeline.ingest import open_warehouse
    from form4.warehouse.parquet import export_parquet

    if args.start is not None and args.end is not None and args.end < args.start:
        raise ConfigError(f"--to {args.end} is before --from {args.start}")
    target = check_text(args.parquet, "--parquet")
    settings = Settings.from_env(os.environ, db_path=args.db, require_user_agent=False)
    require_warehouse(settings.db_path)
    with open_warehouse(settings) as warehouse, warehouse.connection() as con:
        result = export_parquet(
            con,
            target,
            start=args.start,
            end=args.end,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
        )
    out.write(
        f"form4: exported to {result.target}: {len(result.written)} partitions written "
        f"({result.rows_written} rows), {result.unchanged} unchanged, "
        f"{len(result.removed)} removed\n"
    )
    for w in result.written:
        out.write(f"  {w.table} {w.filing_year}-{w.filing_month:02d}: {w.rows} rows\n")
    return 0


def _cmd_sql(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.cli.output import run_sql

    settings = Settings.from_env(os.environ, db_path=args.db, require_user_agent=False)
    query = sys.stdin.read() if args.query == "-" else args.query
    run_sql(
        settings.db_path,
        check_text(query, "the query"),
        args.format,
        out,
        allow_files=args.allow_files,
        memory_mb=settings.duckdb_memory_mb,
        timeout_s=settings.sql_timeout_s if args.timeout is None else args.timeout,
        wait_s=settings.wait_s(writer=False),
    )
    return 0


def _cmd_watch(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.edgar.client import build_client
    from form4.flows.pipeline.watch import MIN_EVERY_S, CycleResult, watch

    if args.every < MIN_EVERY_S:
        raise ConfigError(f"--every {args.every:g} is below the minimum of {MIN_EVERY_S:g} s")
    settings = Settings.from_env(
        os.environ,
        user_agent=args.user_agent,
        db_path=args.db,
        edgar_url=args.edgar_url,
        forms=args.forms,
    )

    def report(cycle: CycleResult) -> None:
        b = cycle.batch
        if cycle.new or b.loaded or b.rejected or b.failed:
            out.write(
                f"form4: feed: {cycle.new} new, {b.loaded} loaded, {b.rejected} rejected, "
                f"{b.failed} failed\n"
            )
            out.flush()

    out.write(
        f"form4: watching EDGAR's feed for {','.join(settings.forms)} every {args.every:g} s "
        f"into {settings.db_path} (Ctrl-C stops)\n"
    )
    out.flush()
    with build_client(settings) as client:
        watch(settings, client, every=args.every, always=args.always, on_cycle=report)
    return 0


# The offline demo must not let Prefect report usage: its SDK reads DO_NOT_TRACK from the
# process environment (at import and at each flow run), its ephemeral server this setting.
DEMO_TELEMETRY_OFF = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def _cmd_mirror(args: argparse.Namespace, out: TextIO) -> int:
    import time
    from pathlib import Path

    from form4.flows.cli.demo import SAMPLE_DATA
    from form4.flows.cli.mirror import EdgarMirror

    root = Path(args.root) if args.root else SAMPLE_DATA
    if not root.is_dir():
        raise ConfigError(f"--dir {root}: no such folder")
    with EdgarMirror(root, port=args.port) as mirror:
        out.write(f"form4 mirror: serving {root} at {mirror.base_url}\n")
        out.write(f"  point form4 at it: FORM4_EDGAR_URL={mirror.base_url}\n")
        out.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    # The command line owns this process's environment; it sets only what the user did not,
    # and before Prefect is imported.
    for name, value in DEMO_TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
    from form4.flows.cli.demo import run_demo

    run_demo(args.db, os.environ, out)
    return 0


_LONG_RUNNING = ("ingest", "backfill", "reprocess", "watch", "demo")
INTERRUPT_GRACE_S = 3.0


def _exit_soon_after_interrupt() -> None:
    """Ctrl-C on a terminal signals the whole process group, Prefect's temporary server
    included: the flow would then wait over a minute for a server that is gone. The first
    SIGINT stops the run as usual (KeyboardInterrupt: the batch being fetched is not
    committed, committed ones stay whole) and gives it ``INTERRUPT_GRACE_S`` seconds; then the
    process exits. Nothing is lost by that: DuckDB commits are atomic and its log is replayed
    on the next open, and raw copies are synced before the rows that point at them."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupted(signum: int, frame: FrameType | None) -> None:
        def leave() -> None:
            sys.stderr.write("form4: interrupted\n")
            sys.stderr.flush()
            os._exit(130)

        timer = threading.Timer(INTERRUPT_GRACE_S, leave)
        timer.daemon = True
        timer.start()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    from form4.flows.runlog import log_to_stderr

    log_to_stderr()  # form4's lines to stderr, unless a flow run takes them (flows.runlog)
    commands = {
        "ingest": _cmd_ingest,
        "backfill": _cmd_backfill,
        "reprocess": _cmd_reprocess,
        "verify": _cmd_verify,
        "report": _cmd_report,
        "export": _cmd_export,
        "sql": _cmd_sql,
        "mirror": _cmd_mirror,
        "watch": _cmd_watch,
        "demo": _cmd_demo,
    }
    previous = signal.getsignal(signal.SIGINT)
    if args.command in _LONG_RUNNING:
        _exit_soon_after_interrupt()
    try:
        return commands[args.command](args, out)
    except ConfigError as exc:
        sys.stderr.write(f"form4: error: {exc}\n")
        return EXIT_USAGE
    except Form4Error as exc:
        sys.stderr.write(f"form4: error: {_first_line(exc)}\n")
        return EXIT_ERROR
    except OSError as exc:  # a full disk, a read-only or missing directory: one line, no trace
        full = "no space left on device: " if exc.errno == errno.ENOSPC else ""
        sys.stderr.write(f"form4: error: {full}{_first_line(exc)}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("form4: interrupted\n")
        return 130
    finally:
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    raise SystemExit(main())
