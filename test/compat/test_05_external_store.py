"""Eviction to an external store and transparent restore on get (docs §3.6, §9)."""


import pytest

from compat_util import new_id, payload, read_bytes

KIB = 1024


def _fill(store, with_metadata, count=20, size=100 * KIB):
    client, reader = store.client(), store.client()
    objects = {}
    for i in range(count):
        oid = new_id()
        meta = b"meta%d" % i if with_metadata else b""
        client.create_and_seal(oid, payload(size, i), meta)
        objects[oid] = (payload(size, i), meta, client.hash(oid))
    return client, reader, objects


def _check_all_restored(client, reader, objects):
    for oid, (data, meta, digest) in objects.items():
        assert reader.contains(oid), "an evicted object still counts as contained"
        [(got_meta, got_data)] = reader.get_buffers([oid], timeout_ms=1000, with_meta=True)
        assert got_data is not None, "object lost instead of restored"
        assert bytes(got_data) == data and bytes(got_meta) == meta
        del got_meta, got_data
        assert reader.hash(oid) == digest, "restored content differs from what was sealed"
    assert reader.get_buffers([new_id()], timeout_ms=100) == [None]


@pytest.mark.needs_external_store
@pytest.mark.parametrize("with_metadata", [
    False,
    pytest.param(True, marks=pytest.mark.plasmapool_only(
        "the reference hashtable store aborts restoring an object with metadata "
        "(hash_table_store.cc:48 size check)"))], ids=["data", "data+metadata"])
def test_hashtable_external_store_restores_evicted_objects(start, with_metadata):
    # The scenario of upstream TestEvictionToExternalStore, plus digests.
    store = start(1_024_000, external="hashtable://test")
    client, reader, objects = _fill(store, with_metadata)
    _check_all_restored(client, reader, objects)
    # Restoring evicts others again; a second full pass must still work.
    _check_all_restored(client, reader, objects)


@pytest.mark.needs_file_spill
@pytest.mark.plasmapool_only("the reference store only knows hashtable:// (§7.1)")
def test_file_external_store_spills_to_files_and_restores(start, tmp_path):
    spill = tmp_path / "spill"
    spill.mkdir()
    store = start(1_024_000, external=f"file://{spill}")
    client, reader, objects = _fill(store, with_metadata=True)
    files = [p for p in spill.rglob("*") if p.is_file()]
    assert files, f"nothing was spilled to {spill}"
    assert sum(p.stat().st_size for p in files) >= 10 * 100 * KIB, \
        "about half of the 2 MB written must be on disk in a 1 MB store"
    _check_all_restored(client, reader, objects)
    _check_all_restored(client, reader, objects)
    # Deleting a spilled object removes it for good.
    victim = next(iter(objects))
    client.evict(10_000_000)
    client.delete([victim])
    assert not client.contains(victim)
    assert read_bytes(client, victim, timeout_ms=0) is None
