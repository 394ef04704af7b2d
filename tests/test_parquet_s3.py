"""Parquet export to object storage: ``form4 export --parquet s3://bucket/prefix`` against an
S3-compatible server (moto's, in server mode) started on 127.0.0.1 by the test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from form4.flows.cli.main import main
from form4.parsers.errors import LoadError
from form4.warehouse.db import Warehouse
from form4.warehouse.parquet import MANIFEST_NAME, S3Target, export_parquet
from tests.analyst_day import analyst_day
from tests.records_factory import filing

BUCKET = "lake"


@pytest.fixture
def s3() -> Iterator[Any]:
    """A loopback S3 server and the usual AWS variables pointing at it; yields a boto3 client."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_EC2_METADATA_DISABLED": "true",  # never ask a metadata service off the machine
        }
    )
    client = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        server.stop()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with Warehouse(path) as wh:
        wh.load_batch([*analyst_day(), filing("0002900001-26-000099")])
    return path


def objects(client: Any) -> dict[str, str]:
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix="form4/")
    return {o["Key"]: o["ETag"] for o in listing.get("Contents", [])}


def read_table(name: str) -> Any:
    import pyarrow.parquet as pq

    target = S3Target.parse(
        f"s3://{BUCKET}/form4", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region="us-east-1"
    )
    return pq.read_table(
        f"{BUCKET}/form4/{name}", filesystem=target.filesystem(), partitioning="hive"
    )


def test_form4_export_writes_tables_and_views_to_s3_and_a_rerun_uploads_nothing(
    s3: Any, db: Path
) -> None:
    """Guards against an s3:// target written as a local folder named 's3:', rows lost on
    the way, views left out, or a nightly export uploading the whole lake again."""
    assert main(["export", "--parquet", f"s3://{BUCKET}/form4", "--db", str(db)]) == 0
    first = objects(s3)
    assert "form4/transactions/filing_year=2026/filing_month=2/data.parquet" in first
    assert f"form4/{MANIFEST_NAME}" in first
    assert not Path("s3:").exists()
    with Warehouse(db, read_only=True) as wh:
        for name in ("transactions", "transactions_current", "issuer_daily"):
            row = wh.con.execute(f"SELECT count(*) FROM {name}").fetchone()
            assert row is not None and read_table(name).num_rows == row[0] > 0, name
        sold = wh.con.execute("SELECT sum(sold_shares) FROM issuer_daily").fetchone()
    table = read_table("issuer_daily")
    assert sold is not None and sum(table.column("sold_shares").to_pylist()) == sold[0]
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=f"form4/{MANIFEST_NAME}")["Body"].read())
    listed = {f"form4/{p['path']}" for parts in manifest["tables"].values() for p in parts}
    assert listed == {k for k in first if k.endswith(".parquet")}
    assert main(["export", "--parquet", f"s3://{BUCKET}/form4", "--db", str(db)]) == 0
    again = objects(s3)
    parquet = {k: v for k, v in again.items() if k.endswith(".parquet")}
    assert parquet == {k: v for k, v in first.items() if k.endswith(".parquet")}


def test_an_export_that_fails_midway_keeps_the_previous_manifest_and_is_finished_later(
    s3: Any, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a manifest that names an export which never finished, or a failed
    upload that the next export believes done (its state must not be committed)."""
    url = f"s3://{BUCKET}/form4"
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    with Warehouse(db) as wh:
        export_parquet(wh.con, url, s3_endpoint_url=endpoint)
        manifest_before = s3.get_object(Bucket=BUCKET, Key=f"form4/{MANIFEST_NAME}")["Body"].read()
        wh.load_batch([filing("0002900001-26-000099", transactions=1)])  # February changes
        calls = {"n": 0}
        real_write = S3Target.write

        def failing_write(self: S3Target, *args: Any) -> str:
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError("connection reset by peer")
            return real_write(self, *args)

        monkeypatch.setattr(S3Target, "write", failing_write)
        with pytest.raises(LoadError, match="connection reset"):
            export_parquet(wh.con, url, s3_endpoint_url=endpoint)
        manifest_mid = s3.get_object(Bucket=BUCKET, Key=f"form4/{MANIFEST_NAME}")["Body"].read()
        assert manifest_mid == manifest_before
        monkeypatch.setattr(S3Target, "write", real_write)
        result = export_parquet(wh.con, url, s3_endpoint_url=endpoint)
        assert {w.table for w in result.written} >= {"filings", "transactions"}
        count = wh.con.execute("SELECT count(*) FROM transactions").fetchone()
    assert count is not None and read_table("transactions").num_rows == count[0]
    manifest_after = s3.get_object(Bucket=BUCKET, Key=f"form4/{MANIFEST_NAME}")["Body"].read()
    assert manifest_after != manifest_before


def test_an_s3_url_without_a_bucket_is_refused() -> None:
    """Guards against 's3://' alone writing somewhere unexpected."""
    with pytest.raises(LoadError, match="no bucket"):
        S3Target.parse("s3:///prefix")
