"""Reports are written atomically with the mode ``open()`` would give them (the umask's, or the
existing file's), not mkstemp's 0600."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from hotpipe._files import current_umask, write_atomic


@pytest.fixture
def umask():
    def set_mask(mask):
        os.umask(mask)
        return mask

    old = os.umask(0o022)
    os.umask(old)
    yield set_mask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_reports_follow_the_umask(profile, tmp_path, umask, mask):
    umask(mask)
    assert current_umask() == mask
    paths = [tmp_path / n for n in ("p.html", "p.json", "t.json")]
    profile.to_html(str(paths[0]))
    profile.to_json(str(paths[1]))
    profile.to_chrome_trace(str(paths[2]))
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path.name


def test_an_existing_file_keeps_its_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "shared.json"
    target.write_text("old")
    target.chmod(0o664)
    write_atomic(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o664


def test_no_temporary_file_is_left_on_failure(tmp_path):

    with pytest.raises(TypeError):
        write_atomic(tmp_path / "x.txt", 42)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_reading_the_umask_from_threads_is_stable(umask):
    umask(0o027)
    seen = set()

    def read():
        for _ in range(200):
            seen.add(current_umask())

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {0o027}
