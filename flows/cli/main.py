"""The ``form4`` command line: ``ingest``, ``backfill``, ``reprocess``, ``report``, ``export``,
``sql`` and ``demo``.

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
import sys
from collections.abc import Sequence
from datetime import date
from typing import NoReturn, TextIO

from form4.flows.cli.output import open_read_only, require_warehouse
from form4.flows.config import Settings, check_day, check_text, parse_date, parse_forms
from form4.parsers.errors import ConfigError, Form4Error

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="form4",
        description="SEC EDGAR insider transactions (Forms 3, 4, 5) into DuckDB.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ingest = sub.add_parser(
        "ingest",
        help="fetch a day (or range) of filings from EDGAR into the warehouse",
        description=(
            "Without --date: every business day after the last one ingested up to yesterday "
            "(America/New_York), plus days left pending and filings that failed before."
        ),
    )
    ingest.add_argument("--date", type=_date_arg, help="first (or only) day, YYYY-MM-DD")
    ingest.add_argument("--to", type=_date_arg, help="last day of a range, YYYY-MM-DD")
    _edgar_options(ingest)

    backfill = sub.add_parser(
        "backfill",
        help="load a range of days, or every ownership filing of one CIK",
        description=(
            "--from/--to: every business day of the range, over a finished quarter's full index "
            "where that needs fewer requests, else the daily indexes. --cik: every ownership "
            "filing listed in data.sec.gov/submissions/CIK##########.json and its pages."
        ),
    )
    backfill.add_argument("--from", dest="start", type=_date_arg, help="first day, YYYY-MM-DD")
    backfill.add_argument("--to", dest="end", type=_date_arg, help="last day, YYYY-MM-DD")
    backfill.add_argument("--cik", type=_cik_arg, help="an issuer's or insider's CIK")
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
    _db_option(reprocess)

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
            "Writes every data table (and rejects without their raw bytes) under DIR, one file "
            "per table and filing month; only months changed since the last export to DIR are "
            "rewritten, each atomically. --from/--to limit it to the months they overlap."
        ),
    )
    export.add_argument("--parquet", required=True, metavar="DIR", help="target directory")
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
    if args.start is None and args.cik is None:
        raise ConfigError("backfill needs --from (and --to) or --cik")
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
    )
    if state.is_failed():
        raise Form4Error(state.message or "the backfill flow failed")
    print_backfill_summary(state.result(), settings, out)
    return 0


def _cmd_reprocess(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.pipeline.ingest import open_warehouse
    from form4.flows.pipeline.reprocess import reprocess
    from form4.warehouse.raw import RawStore

    _check_range(args.date, args.to)
    settings = Settings.from_env(os.environ, db_path=args.db, require_user_agent=False)
    require_warehouse(settings.db_path)
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
    for reason in batch.reject_reasons:
        out.write(f"  rejected {reason}\n")
    return 0


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
    con = open_read_only(settings.db_path)
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
    with open_warehouse(settings) as warehouse:
        result = export_parquet(warehouse.con, target, start=args.start, end=args.end)
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
    )
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from form4.flows.cli.demo import run_demo

    run_demo(args.db, os.environ, out)
    return 0


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    commands = {
        "ingest": _cmd_ingest,
        "backfill": _cmd_backfill,
        "reprocess": _cmd_reprocess,
        "report": _cmd_report,
        "export": _cmd_export,
        "sql": _cmd_sql,
        "demo": _cmd_demo,
    }
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


if __name__ == "__main__":
    raise SystemExit(main())
