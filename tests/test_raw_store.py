"""The raw store: packs of gzip members, read back one document at a time, never lost."""

from __future__ import annotations

import gzip
import threading
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from form4.parsers.errors import LoadError
from form4.warehouse import raw as raw_module
from form4.warehouse.raw import RawLocation, RawStore, gzip_member, sha256


def _docs(n: int) -> dict[str, bytes]:
    return {
        f"0001127602-25-{i:06d}": b"<SEC-DOCUMENT>" + str(i).encode() * (2_000 + i)
        for i in range(n)
    }


def test_documents_put_from_many_threads_read_back_exactly_after_sync(tmp_path: Path) -> None:
    """Guards against a lost, swapped or corrupted raw copy: reprocess depends on them."""
    store = RawStore(tmp_path / "raw")
    docs = _docs(40)
    where: dict[str, RawLocation] = {}
    lock = threading.Lock()

    def put(items: list[tuple[str, bytes]]) -> None:
        for acc, data in items:
            loc = pack.put(acc, data)
            with lock:
                where[acc] = loc

    with closing(store.pack(datetime(2026, 2, 2, 23, 5, 9, tzinfo=UTC))) as pack:
        items = list(docs.items())
        threads = [threading.Thread(target=put, args=(items[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not (store.root / pack.relative).exists()  # nothing written before sync
        pack.sync()
    assert pack.relative.startswith("2026/02/02/230509-")
    files = [p for p in store.root.rglob("*") if p.is_file()]
    assert [p.relative_to(store.root).as_posix() for p in files] == [pack.relative]
    size = files[0].stat().st_size
    assert size < sum(map(len, docs.values())) // 10
    # the members tile the file exactly, each read alone gives its own document
    spans = sorted((loc.offset or 0, loc.length or 0) for loc in where.values())
    assert spans[0][0] == 0 and sum(n for _, n in spans) == size
    assert all(a + n == b for (a, n), (b, _) in zip(spans, spans[1:], strict=False))
    for acc, data in docs.items():
        assert store.read(where[acc], acc) == data
        assert sha256(store.read(where[acc], acc)) == sha256(data)
    # and the pack as a whole is an ordinary gzip file: every document, in file order
    by_offset = sorted(docs, key=lambda a: where[a].offset or 0)
    assert gzip.decompress(files[0].read_bytes()) == b"".join(docs[a] for a in by_offset)


def test_each_sync_appends_and_unsynced_documents_are_dropped_on_close(tmp_path: Path) -> None:
    """Guards against a row pointing at bytes a crash could lose, or offsets that drift."""
    store = RawStore(tmp_path / "raw")
    docs = list(_docs(3).items())
    with closing(store.pack()) as pack:
        first = pack.put(*docs[0])
        pack.sync()
        pack.sync()  # nothing pending: a no-op
        second = pack.put(*docs[1])
        pack.sync()
        pack.put(*docs[2])  # never synced
    path = store.root / pack.relative
    assert path.stat().st_size == (first.length or 0) + (second.length or 0)
    assert second.offset == first.length
    assert store.read(second, docs[1][0]) == docs[1][1]


def test_a_read_that_finds_another_document_or_damage_is_an_error(tmp_path: Path) -> None:
    """Guards against serving the wrong filing when the catalog and a pack disagree."""
    store = RawStore(tmp_path / "raw")
    (a, da), (b, db) = list(_docs(2).items())
    with closing(store.pack()) as pack:
        loc_a, loc_b = pack.put(a, da), pack.put(b, db)
        pack.sync()
    with pytest.raises(LoadError, match="holds '0001127602-25-000001'"):
        store.read(loc_b, a)
    with pytest.raises(LoadError, match="cannot read raw"):
        store.read(RawLocation(loc_a.path, loc_a.offset, (loc_a.length or 0) - 9), a)
    missing = RawLocation("2026/01/01/000000-1-deadbeef.gz", 0, 10)
    assert not store.exists(missing)
    with pytest.raises(LoadError, match="cannot read raw"):
        store.read(missing, a)
    with pytest.raises(LoadError, match="not an accession number"):
        store.pack().put("../../etc/passwd", b"")


def test_a_failed_sync_is_reported_and_the_pack_refuses_to_go_on(tmp_path: Path) -> None:
    """Guards against loading rows whose raw copy was never written."""
    blocker = tmp_path / "raw"
    blocker.write_bytes(b"a file where the raw directory should be")
    with closing(RawStore(blocker).pack()) as pack:
        acc, data = next(iter(_docs(1).items()))
        pack.put(acc, data)
        with pytest.raises(LoadError, match="cannot store raw documents"):
            pack.sync()
        pack.put(acc, data)
        with pytest.raises(LoadError, match="cannot store raw documents"):
            pack.sync()


def test_a_file_per_filing_from_before_packs_is_still_read(tmp_path: Path) -> None:
    """Guards against losing the raw copies of warehouses written by earlier versions."""
    store = RawStore(tmp_path / "raw")
    acc, data = next(iter(_docs(1).items()))
    legacy = "0001127602/25/0001127602-25-000000.txt.gz"
    (store.root / legacy).parent.mkdir(parents=True)
    (store.root / legacy).write_bytes(gzip.compress(data, mtime=0))
    assert store.read(RawLocation(legacy), acc) == data


def test_a_member_names_its_document_in_the_gzip_header() -> None:
    """Guards against packs that other tools cannot read (gzip, zcat) or attribute."""
    member = gzip_member("0001127602-25-001055", b"hello")
    assert gzip.decompress(member) == b"hello"
    assert member[3] == 0x08 and member[10:31] == b"0001127602-25-001055\x00"


def test_a_new_pack_makes_its_directory_entries_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a synced pack that a power cut unlinks: its new directories' entries
    must reach the disk too, not only the file's bytes."""
    synced: list[Path] = []
    monkeypatch.setattr(raw_module, "_fsync_dir", synced.append)
    store = RawStore(tmp_path / "raw")
    store.root.mkdir()
    acc, data = next(iter(_docs(1).items()))
    when = datetime(2026, 2, 2, 23, 5, 9, tzinfo=UTC)
    for _ in range(2):  # the second pack of the day only adds a file to an existing directory
        with closing(store.pack(when)) as pack:
            pack.put(acc, data)
            pack.sync()
            pack.put(acc, data)
            pack.sync()  # an existing pack's entry is already durable
    day = store.root / "2026/02/02"
    assert sorted(synced[:-1]) == [store.root, store.root / "2026", day.parent, day]
    assert synced[-1] == day


def test_a_new_pack_is_not_executable_and_respects_the_umask(tmp_path: Path) -> None:
    """Guards against raw copies created ``rwxr-xr-x`` (data marked as programs), or readable
    by everyone on a machine whose umask says otherwise."""
    import os
    import stat

    for umask, expected in ((0o022, 0o644), (0o077, 0o600)):
        old = os.umask(umask)
        try:
            store = RawStore(tmp_path / f"raw-{umask:o}")
            with closing(store.pack()) as pack:
                location = pack.put("0001127602-25-000001", b"<SEC-DOCUMENT>x")
                pack.sync()
        finally:
            os.umask(old)
        mode = stat.S_IMODE((store.root / location.path).stat().st_mode)
        assert mode == expected, oct(mode)
