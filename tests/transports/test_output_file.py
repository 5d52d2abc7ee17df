"""OutputFile: the one piece that writes user files without destroying any (SPEC §5.1)."""

from __future__ import annotations

import os

import pytest

from presencectl.errors import UsageError
from presencectl.transports.files import OutputFile, check_output


def test_a_new_file_appears_at_once_and_is_removed_if_discarded(tmp_path):
    path = tmp_path / "new.ndjson"
    out = OutputFile(str(path))
    assert path.exists() and not out.replaces
    out.file.write(b"partial\n")
    out.close(keep=False)
    assert not path.exists()


def test_an_existing_file_is_refused_without_force(tmp_path):
    path = tmp_path / "old.ndjson"
    path.write_bytes(b"precious\n")
    with pytest.raises(UsageError, match="--force"):
        OutputFile(str(path))
    assert path.read_bytes() == b"precious\n"


def test_with_force_the_old_file_stays_until_commit(tmp_path):
    path = tmp_path / "old.ndjson"
    path.write_bytes(b"precious\n")
    out = OutputFile(str(path), force=True)
    out.file.write(b"new\n")
    out.file.flush()
    assert path.read_bytes() == b"precious\n"
    out.commit()
    assert path.read_bytes() == b"new\n"
    out.file.write(b"more\n")
    out.close()
    assert path.read_bytes() == b"new\nmore\n"
    assert os.listdir(tmp_path) == ["old.ndjson"]  # no temporary file left
    assert (path.stat().st_mode & 0o777) == 0o666 & ~_umask()


def test_with_force_a_discarded_output_leaves_the_old_file(tmp_path):
    path = tmp_path / "old.ndjson"
    path.write_bytes(b"precious\n")
    with pytest.raises(RuntimeError), OutputFile(str(path), force=True) as out:
        out.file.write(b"half")
        raise RuntimeError
    assert path.read_bytes() == b"precious\n"
    assert os.listdir(tmp_path) == ["old.ndjson"]


def test_an_input_is_never_an_output_even_with_force_or_another_name(tmp_path):
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"x\n")
    link = tmp_path / "link.ndjson"
    link.symlink_to(path)
    hard = tmp_path / "hard.ndjson"
    os.link(path, hard)
    for spelling in (str(path), str(link), str(hard)):
        with pytest.raises(UsageError, match="also an input"):
            check_output(str(path), force=True, inputs=[spelling])
    assert path.read_bytes() == b"x\n"


def test_a_symlinked_output_is_written_through_the_link(tmp_path):
    target = tmp_path / "real.ndjson"
    target.write_bytes(b"old\n")
    link = tmp_path / "link.ndjson"
    link.symlink_to(target)
    with OutputFile(str(link), force=True) as out:
        out.file.write(b"new\n")
    assert link.is_symlink() and target.read_bytes() == b"new\n"


def test_devices_are_written_in_place():
    with OutputFile(os.devnull) as out:
        out.file.write(b"gone\n")
    assert os.path.exists(os.devnull)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
