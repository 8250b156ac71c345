"""Tests for passk.records: JSONL reading, samples, atomic writing and the append-only journal."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from passk.errors import InputError, OutputError, PasskError
from passk.records import JsonlAppender, Sample, read_jsonl, read_samples, write_jsonl_atomic
from passk.records.jsonl import read_journal


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- read_jsonl


def test_read_jsonl_numbers_lines_as_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n   \n{"a": 2}\r\n\t\n{"a": 3}')
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (4, {"a": 2}), (6, {"a": 3})]


def test_read_jsonl_reads_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress('{"a": "é"}\n\n{"a": 2}\n'.encode()))
    assert list(read_jsonl(path)) == [(1, {"a": "é"}), (3, {"a": 2})]


def test_read_jsonl_line_numbers_in_gzip_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n\n{"a": \n'))
    with pytest.raises(InputError, match="^" + re.escape(f"{path}:3: malformed JSON: ")):
        list(read_jsonl(path))


def test_read_jsonl_refuses_a_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b'{"a": 1}\n')
    with pytest.raises(InputError, match="^" + re.escape(f"{path}: not a valid gzip file: ")):
        list(read_jsonl(path))


@pytest.mark.parametrize(
    ("line", "kind"),
    [("[1, 2]", "list"), ("3", "int"), ('"text"', "str"), ("null", "NoneType"), ("1.5", "float")],
)
def test_read_jsonl_refuses_non_objects(tmp_path: Path, line: str, kind: str) -> None:
    path = write_lines(tmp_path / "x.jsonl", '{"a": 1}', line)
    rows = read_jsonl(path)
    assert next(rows) == (1, {"a": 1})  # lines before the bad one are delivered
    with pytest.raises(InputError) as info:
        next(rows)
    assert str(info.value) == f"{path}:2: expected a JSON object, got {kind}"


def test_read_jsonl_malformed_json_names_line_and_column(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", '{"a": 1}', "", '{"a": oops}')
    with pytest.raises(InputError) as info:
        list(read_jsonl(path))
    assert str(info.value) == f"{path}:3: malformed JSON: Expecting value (column 7)"


def test_read_jsonl_refuses_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xe9"}\n')
    with pytest.raises(InputError) as info:
        list(read_jsonl(path))
    assert str(info.value) == f"{path}:2: not UTF-8 (byte 7)"


def test_read_jsonl_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        list(read_jsonl(tmp_path / "nope.jsonl"))
    assert str(info.value) == f"{tmp_path / 'nope.jsonl'}: no such file"
    with pytest.raises(InputError) as info:
        list(read_jsonl(tmp_path))
    assert str(info.value) == f"{tmp_path}: is a directory, not a JSONL file"


def test_read_jsonl_errors_are_passk_errors_with_input_exit_code(tmp_path: Path) -> None:
    with pytest.raises(PasskError) as info:
        list(read_jsonl(tmp_path / "nope.jsonl"))
    assert info.value.exit_code == 2


def test_read_jsonl_does_not_split_on_unicode_line_separators(tmp_path: Path) -> None:
    # str.splitlines() would break these lines apart; JSONL lines end only at "\n".
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": "x\u2028y\x85z"}\n', encoding="utf-8")
    assert list(read_jsonl(path)) == [(1, {"a": "x\u2028y\x85z"})]


# --------------------------------------------------------------------------- read_samples


def test_read_samples_assigns_completion_ids_per_task_in_order(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "s.jsonl",
        *(
            json.dumps({"task_id": t, "completion": c})
            for t, c in [("A", "a0"), ("B", "b0"), ("A", "a1"), ("A", "a2"), ("B", "b1")]
        ),
    )
    samples = read_samples(path)
    assert [(s.task_id, s.completion_id, s.text) for s in samples] == [
        ("A", 0, "a0"),
        ("B", 0, "b0"),
        ("A", 1, "a1"),
        ("A", 2, "a2"),
        ("B", 1, "b1"),
    ]
    assert [s.line for s in samples] == [1, 2, 3, 4, 5]
    assert [s.key for s in samples][:2] == [("A", 0), ("B", 0)]


def test_read_samples_keeps_given_completion_ids_and_extra_fields(tmp_path: Path) -> None:
    row = {
        "task_id": "A",
        "completion": "x",
        "completion_id": 7,
        "mean_logp": -1.5,
        "meta": {"t": 0.8},
    }
    path = write_lines(tmp_path / "s.jsonl", "", json.dumps(row))
    (sample,) = read_samples(path)
    assert sample == Sample("A", 7, "x")
    assert sample.line == 2
    assert sample.is_solution is False
    assert sample.fields == row


def test_read_samples_fields_include_the_assigned_completion_id(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "s.jsonl", json.dumps({"task_id": "A", "completion": "x", "n": 1})
    )
    (sample,) = read_samples(path)
    assert sample.fields == {"task_id": "A", "completion": "x", "n": 1, "completion_id": 0}


def test_read_samples_solution(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "s.jsonl", json.dumps({"task_id": "A", "solution": "def f(): ..."})
    )
    (sample,) = read_samples(path)
    assert sample.is_solution is True
    assert sample.text == "def f(): ..."
    assert "completion" not in sample.fields


def test_read_samples_empty_completion_is_a_sample(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", json.dumps({"task_id": "A", "completion": ""}))
    assert read_samples(path)[0].text == ""


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [
                {"task_id": "A", "completion": "x"},
                {"task_id": "A", "completion": "y", "completion_id": 0},
            ],
            "{path}:2: duplicate sample 'A' completion_id 0 (first on line 1)",
        ),
        (
            [
                {"task_id": "A", "completion": "x", "completion_id": 3},
                {"task_id": "B", "completion": "x", "completion_id": 3},
                {"task_id": "A", "completion": "y", "completion_id": 3},
            ],
            "{path}:3: duplicate sample 'A' completion_id 3 (first on line 1)",
        ),
        ([{"task_id": 5, "completion": "x"}], "{path}:1: missing or non-string 'task_id'"),
        ([{"task_id": "", "completion": "x"}], "{path}:1: missing or non-string 'task_id'"),
        (
            [{"task_id": "A", "completion": None}],
            "{path}:1: needs a 'completion' (or a whole-program 'solution')",
        ),
        (
            [{"task_id": "A", "solution": ["x"]}],
            "{path}:1: 'solution' must be a string, got list",
        ),
        (
            [{"task_id": "A", "completion": "x", "completion_id": -1}],
            "{path}:1: 'completion_id' must be a non-negative integer",
        ),
        (
            [{"task_id": "A", "completion": "x", "completion_id": True}],
            "{path}:1: 'completion_id' must be a non-negative integer",
        ),
        (
            [{"task_id": "A", "completion": "x", "completion_id": "0"}],
            "{path}:1: 'completion_id' must be a non-negative integer",
        ),
    ],
)
def test_read_samples_refuses(tmp_path: Path, lines: list[dict[str, Any]], message: str) -> None:
    path = write_lines(tmp_path / "s.jsonl", *map(json.dumps, lines))
    with pytest.raises(InputError) as info:
        read_samples(path)
    assert str(info.value) == message.format(path=path)


def test_read_samples_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("\n\n")
    with pytest.raises(InputError) as info:
        read_samples(path)
    assert str(info.value) == f"{path}: no samples (the file is empty)"


# --------------------------------------------------------------------------- write_jsonl_atomic


ROWS = [{"task_id": "A", "completion": "é → ☃\n", "n": 1.5}, {"b": [1, None, True]}, {}]


def test_write_jsonl_atomic_content_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_jsonl_atomic(path, ROWS)
    expected = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in ROWS)
    assert path.read_bytes() == expected.encode("utf-8")
    assert [row for _, row in read_jsonl(path)] == ROWS
    assert files_in(tmp_path) == ["out.jsonl"]


def test_write_jsonl_atomic_accepts_a_generator_and_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_jsonl_atomic(path, (row for row in ROWS))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    write_jsonl_atomic(path, [])
    assert path.read_bytes() == b""
    assert files_in(tmp_path) == ["out.jsonl"]


def test_write_jsonl_atomic_creates_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "out.jsonl"
    write_jsonl_atomic(str(path), [{"x": 1}])
    assert path.read_text() == '{"x": 1}\n'


def test_write_jsonl_atomic_replaces_by_rename(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")
    old_inode = path.stat().st_ino
    with open(path) as reader:  # a reader of the old file keeps seeing all of it
        write_jsonl_atomic(path, [{"x": 1}])
        assert reader.read() == "old\n"
    assert path.read_text() == '{"x": 1}\n'
    assert path.stat().st_ino != old_inode
    assert files_in(tmp_path) == ["out.jsonl"]


def test_write_jsonl_atomic_failure_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text("previous\n")
    with pytest.raises(TypeError):
        write_jsonl_atomic(path, [{"x": 1}, {"x": object()}])
    assert path.read_text() == "previous\n"
    assert files_in(tmp_path) == ["out.jsonl"]


def test_write_jsonl_atomic_failing_generator_leaves_nothing(tmp_path: Path) -> None:
    def rows() -> Any:
        yield {"x": 1}
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError):
        write_jsonl_atomic(tmp_path / "out.jsonl", rows())
    assert files_in(tmp_path) == []


def test_write_jsonl_atomic_onto_a_directory_is_an_output_error(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.mkdir()
    with pytest.raises(OutputError) as info:
        write_jsonl_atomic(target, [{"x": 1}])
    assert str(info.value).startswith(f"{target}: cannot write: ")
    assert files_in(tmp_path) == ["out.jsonl"]
    assert target.is_dir()


def test_write_jsonl_atomic_below_a_regular_file_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    target = tmp_path / "afile" / "sub" / "out.jsonl"
    with pytest.raises(OutputError) as info:
        write_jsonl_atomic(target, [{"x": 1}])
    assert str(info.value) == f"{target}: cannot write: Not a directory"
    assert files_in(tmp_path) == ["afile"]


def test_write_jsonl_atomic_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "out.jsonl"
        write_jsonl_atomic(path, [{"x": 1}])
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)


# --------------------------------------------------------------------------- JsonlAppender


def test_appender_appends_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with JsonlAppender(path) as journal:
        journal.append({"i": 0})
        journal.append({"i": 1, "s": "é"})
        # Each line reaches the file when appended, not only on close.
        assert path.read_text(encoding="utf-8") == '{"i": 0}\n{"i": 1, "s": "é"}\n'
    with JsonlAppender(path) as journal:
        journal.append({"i": 2})
    assert read_journal(path) == [{"i": 0}, {"i": 1, "s": "é"}, {"i": 2}]
    assert [row for _, row in read_jsonl(path)] == read_journal(path)


def test_appender_creates_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "j.jsonl"
    with JsonlAppender(path) as journal:
        journal.append({"i": 0})
    assert path.read_text() == '{"i": 0}\n'


def test_appender_puts_a_newline_after_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"i": 0}\n{"i": 1, "tor')
    with JsonlAppender(path) as journal:
        journal.append({"i": 2})
    assert path.read_bytes() == b'{"i": 0}\n{"i": 1, "tor\n{"i": 2}\n'
    assert read_journal(path) == [{"i": 0}, {"i": 2}]


def test_appender_keeps_a_complete_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"i": 0}')
    with JsonlAppender(path) as journal:
        journal.append({"i": 1})
    assert read_journal(path) == [{"i": 0}, {"i": 1}]


def test_appender_adds_nothing_to_an_empty_or_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b"")
    with JsonlAppender(path):
        pass
    assert path.read_bytes() == b""
    path.write_bytes(b'{"i": 0}\n')
    with JsonlAppender(path):
        pass
    assert path.read_bytes() == b'{"i": 0}\n'


def test_appender_close_is_idempotent(tmp_path: Path) -> None:
    journal = JsonlAppender(tmp_path / "j.jsonl", sync_every_s=0.0)
    journal.append({"i": 0})
    journal.close()
    journal.close()
    assert read_journal(tmp_path / "j.jsonl") == [{"i": 0}]


def test_appender_on_a_directory_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError) as info:
        JsonlAppender(tmp_path)
    assert str(info.value).startswith(f"{tmp_path}: cannot write: ")


def test_read_journal_skips_torn_and_foreign_lines(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"i": 0}\n\n[1]\n{"i": \xff\n"text"\n{"i": 1}\n{"i": 2, "x": "un')
    assert read_journal(path) == [{"i": 0}, {"i": 1}]


def test_read_journal_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "nope.jsonl") == []
