"""Instance manifests: every entry is present with its checksum; fetching verifies checksums."""

import functools
import http.server
import shutil
import threading

import pytest

from qbench import instances
from qbench.errors import InstanceNotFoundError, QbenchError


@pytest.fixture(scope="module")
def all_entries():
    return instances.all_entries()


def test_manifests_cover_all_problem_classes(all_entries):
    kinds = {e.kind for e in all_entries}
    assert kinds == {"bitalloc", "mdkp", "mis", "msp", "qap", "tsp"}
    for entry in all_entries:
        assert entry.files and all(len(f.sha256) == 64 for f in entry.files)
        assert entry.license and entry.citation, entry.name
        assert all(f.url.startswith("https://") for f in entry.files)


def test_every_manifest_file_is_in_the_instance_dir_with_its_checksum(instances_dir, all_entries):
    for entry in all_entries:
        for f in entry.files:
            path = instances_dir / entry.kind / f.name
            assert path.is_file(), path
            assert instances.sha256_of(path) == f.sha256, path


@pytest.fixture
def mirror(instances_dir):
    """A local HTTP server on 127.0.0.1 serving the instance directory (KIND/FILE)."""
    handler = functools.partial(_QuietHandler, directory=str(instances_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_fetch_downloads_and_verifies_then_resolves_from_cache(mirror, monkeypatch, tmp_path):
    monkeypatch.delenv("QBENCH_INSTANCES")
    monkeypatch.setenv("QBENCH_CACHE", str(tmp_path / "cache"))
    entry = instances.manifest("qap")["nug12"]
    with pytest.raises(InstanceNotFoundError, match="qbench instances fetch nug12"):
        instances.resolve("qap", "nug12")
    directory = instances.fetch(entry, mirror=mirror)
    assert sorted(p.name for p in directory.iterdir()) == ["nug12.dat", "nug12.sln"]
    resolved = instances.resolve("qap", "nug12")
    assert resolved.path == tmp_path / "cache" / "qap" / "nug12.dat"
    assert resolved.entry is entry


def test_fetch_rejects_a_corrupted_download(instances_dir, monkeypatch, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(instances_dir / "mdkp", served / "mdkp")
    (served / "mdkp" / "hp1.dat").chmod(0o644)
    (served / "mdkp" / "hp1.dat").write_text("28 4 3418\n1 2 3\n")
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("QBENCH_CACHE", str(tmp_path / "cache"))
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(QbenchError, match="hp1.dat"):
            instances.fetch(instances.manifest("mdkp")["hp1"], mirror=url)
        assert not (tmp_path / "cache" / "mdkp" / "hp1.dat").exists()
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_reports_unreachable_source(monkeypatch, tmp_path):
    monkeypatch.setenv("QBENCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(QbenchError, match="cannot download http://127.0.0.1:9/mdkp/hp1.dat"):
        instances.fetch(instances.manifest("mdkp")["hp1"], mirror="http://127.0.0.1:9")


def test_local_file_with_wrong_checksum_is_refused(instances_dir, monkeypatch, tmp_path):
    local = tmp_path / "local"
    (local / "mdkp").mkdir(parents=True)
    (local / "mdkp" / "hp1.dat").write_text("1 1 1\n1\n1\n1\n")
    monkeypatch.setenv("QBENCH_INSTANCES", str(local))
    with pytest.raises(QbenchError, match="does not match the manifest"):
        instances.resolve("mdkp", "hp1")


def test_unknown_name_lists_shipped_ones():
    with pytest.raises(InstanceNotFoundError, match="unknown mdkp instance 'nope'.*hp1"):
        instances.resolve("mdkp", "nope")


def test_a_copied_file_is_identified_by_content(instances_dir, tmp_path):
    copy = tmp_path / "my_copy.dat"
    shutil.copy(instances_dir / "mdkp" / "pet3.dat", copy)
    resolved = instances.resolve("mdkp", str(copy))
    assert resolved.entry is not None and resolved.entry.name == "pet3"
