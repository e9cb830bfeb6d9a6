"""elm_snn._manifest: the one "reuse the output if the manifest matches" check."""

from __future__ import annotations

import hashlib
import json

from elm_snn._manifest import file_intact, file_sha256, matching_manifest, read_manifest


def _write(folder, contents, **manifest):
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def test_file_sha256_and_intact(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"x" * (3 << 20))  # several blocks
    digest = hashlib.sha256(b"x" * (3 << 20)).hexdigest()
    assert file_sha256(path) == digest
    assert file_intact(path, digest) and file_intact(path, digest, size=3 << 20)
    assert not file_intact(path, digest, size=1)  # size checked first
    assert not file_intact(path, "0" * 64)
    assert not file_intact(tmp_path / "missing", digest)


def test_read_manifest_tolerates_what_it_cannot_use(tmp_path):
    path = tmp_path / "m.json"
    assert read_manifest(path) is None  # missing
    path.write_text("{not json")
    assert read_manifest(path) is None
    path.write_text("[1, 2]")
    assert read_manifest(path) is None  # not an object
    path.write_text('{"a": 1}')
    assert read_manifest(path) == {"a": 1}


def test_matching_manifest_compares_the_definition_and_the_files(tmp_path):
    data = b"spikes"
    wanted = {"format_version": 2, "config": {"seed": 1}}
    path = _write(
        tmp_path,
        {"train.h5": data},
        **wanted,
        files={"train.h5": hashlib.sha256(data).hexdigest()},
        stats={"n": 3},
    )
    found = matching_manifest(path, wanted, files=["train.h5"], hashes="files")
    assert found is not None and found["stats"] == {"n": 3}
    # another definition, a missing file, a changed file, a manifest without hashes
    assert matching_manifest(path, {**wanted, "config": {"seed": 2}}) is None
    assert matching_manifest(path, wanted, files=["test.h5"]) is None
    assert matching_manifest(path, wanted, files=["train.h5"], hashes="sizes") is None
    (tmp_path / "train.h5").write_bytes(b"changed")
    assert matching_manifest(path, wanted, files=["train.h5"]) is not None  # exists
    assert matching_manifest(path, wanted, files=["train.h5"], hashes="files") is None
