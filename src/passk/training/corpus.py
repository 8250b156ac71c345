"""The training corpus: Python files, filtered, deduplicated and decontaminated (Chen et al.
2021, section 3.1), written as gzipped JSONL shards with a manifest that describes them.

The paper collected 179 GB of unique Python files under 1 MB from GitHub and filtered them to
159 GB; we build the same kind of corpus from local directories, the standard library and
site-packages. Building takes two passes so that memory holds hashes, never texts: workers
read, filter and sign every file; the parent deduplicates in (source, path) order, then reads
the kept files again to write them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import site
import sysconfig
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from passk.errors import InputError, OutputError
from passk.records.corpus import MANIFEST, SPLITS
from passk.records.files import replace_directory
from passk.records.sources import MAX_FILE_BYTES, find_python_files, read_source
from passk.training import decontaminate, dedup, filters

SHARD_BYTES = 50_000_000  # uncompressed bytes per shard
EXAMPLES = 20
LICENSE_NAMES = ("LICENSE", "LICENCE", "COPYING")

ProgressCallback = Callable[[int, int], None]


# --- Sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    root: Path
    kind: str  # "directory", "stdlib" or "site-packages"


def resolve_sources(
    directories: Iterable[str | os.PathLike[str]], *, stdlib: bool, site_packages: bool
) -> list[Source]:
    sources = []
    for directory in directories:
        root = Path(directory)
        if not root.is_dir():
            what = "no such directory" if not root.exists() else "not a directory"
            raise InputError(f"{directory}: {what}")
        sources.append(Source(root.resolve(), "directory"))
    if stdlib:
        sources.append(Source(Path(sysconfig.get_paths()["stdlib"]).resolve(), "stdlib"))
    if site_packages:
        sources += [
            Source(Path(p).resolve(), "site-packages")
            for p in site.getsitepackages()
            if Path(p).is_dir()
        ]
    if not sources:
        raise InputError("no sources: name directories, or --stdlib / --site-packages")
    return list(dict.fromkeys(sources))


def discover(source: Source) -> list[str]:
    """Paths (relative to the source root) of the .py files under it, sorted."""
    # The stdlib folder may hold site-packages; that is --site-packages' job, not --stdlib's.
    stdlib = source.kind == "stdlib"
    return find_python_files(
        source.root, skip_top=lambda d: stdlib and d in ("site-packages", "dist-packages")
    )


def package_of(source: Source, path: str) -> str:
    if source.kind == "stdlib":
        return "stdlib"
    if source.kind == "site-packages":
        return path.split(os.sep, 1)[0].removesuffix(".py")
    return source.root.name


# --- Pass 1: read, filter, sign (in workers) -------------------------------------------------


@dataclass
class Inspection:
    """What a worker learned about one file: why it is dropped, or its hashes."""

    reason: str | None = None
    contamination: str | None = None
    sha256: str = ""
    content_hash: str = ""
    signature: Any = None
    size: int = 0


_INDEX: decontaminate.ContaminationIndex | None = None


def _init_worker(index: decontaminate.ContaminationIndex) -> None:
    global _INDEX
    _INDEX = index


def inspect_file(path: str) -> Inspection:
    text, reason = read_source(path)
    if text is None:
        return Inspection(reason=reason)
    reason = filters.filter_reason(os.path.basename(path), text)
    if reason is not None:
        return Inspection(reason=reason)
    assert _INDEX is not None, "workers start with the contamination index"
    contamination = _INDEX.reason(text)
    if contamination is not None:
        return Inspection(contamination=contamination)
    data = text.encode("utf-8")
    return Inspection(
        sha256=hashlib.sha256(data).hexdigest(),
        content_hash=dedup.normalized_hash(text),
        signature=dedup.minhash_signature(text),
        size=len(data),
    )


def inspect_all(
    paths: list[str],
    index: decontaminate.ContaminationIndex,
    workers: int,
    on_progress: ProgressCallback | None,
) -> Iterator[Inspection]:
    """Inspections in the order of paths, from `workers` processes (in-process for one)."""
    if workers == 1:
        _init_worker(index)
        results: Iterable[Inspection] = map(inspect_file, paths)
        yield from _reporting(results, len(paths), on_progress)
        return
    import multiprocessing

    with multiprocessing.Pool(workers, initializer=_init_worker, initargs=(index,)) as pool:
        results = pool.imap(inspect_file, paths, chunksize=32)
        yield from _reporting(results, len(paths), on_progress)


def _reporting(
    results: Iterable[Inspection], total: int, on_progress: ProgressCallback | None
) -> Iterator[Inspection]:
    for done, result in enumerate(results, start=1):
        if on_progress is not None and (done % 64 == 0 or done == total):
            on_progress(done, total)
        yield result


# --- Deciding what to keep (in the parent) ---------------------------------------------------


@dataclass
class Tally:
    """Counts and examples for the manifest."""

    found: Counter[str] = field(default_factory=Counter)
    kept: Counter[str] = field(default_factory=Counter)
    filtered: Counter[str] = field(
        default_factory=lambda: Counter(dict.fromkeys(filters.REASONS, 0))
    )
    dropped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def drop(self, group: str, reason: str, source: Source, path: str) -> None:
        if group == "filtered":
            self.filtered[reason] += 1
        else:
            self.dropped[group] += 1
        shown = self.examples.setdefault(group, [])
        if len(shown) < EXAMPLES:
            shown.append({"source": str(source.root), "path": path, "reason": reason})


@dataclass(frozen=True)
class KeptFile:
    source: Source
    path: str
    sha256: str


def select_files(
    files: list[tuple[Source, str]],
    index: decontaminate.ContaminationIndex,
    workers: int,
    on_progress: ProgressCallback | None,
    tally: Tally,
) -> list[KeptFile]:
    """The files that pass the filters, decontamination and deduplication, in input order."""
    deduplicator = dedup.Deduplicator()
    kept = []
    absolute = [str(source.root / path) for source, path in files]
    for (source, path), result in zip(
        files, inspect_all(absolute, index, workers, on_progress), strict=True
    ):
        tally.found[str(source.root)] += 1
        key = f"{source.root}/{path}"
        if result.reason is not None:
            tally.drop("filtered", result.reason, source, path)
        elif result.contamination is not None:
            tally.drop("contaminated", result.contamination, source, path)
        elif duplicate := deduplicator.check(key, result.content_hash, result.signature):
            reason, original = duplicate
            tally.drop(f"{reason}s", f"{reason} of {original}", source, path)
        else:
            kept.append(KeptFile(source, path, result.sha256))
    return kept


# --- Pass 2: write the shards ---------------------------------------------------------------


def in_valid_split(sha256: str, seed: int, valid_fraction: float) -> bool:
    """Whether a file goes to the validation split: a hash of its content and the seed, so the
    split depends on neither the file's order nor on which other files were kept."""
    digest = hashlib.sha256(f"{seed}:{sha256}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < valid_fraction


class ShardWriter:
    """Writes records to {split}-00000.jsonl.gz, {split}-00001.jsonl.gz, ... of ~SHARD_BYTES.

    gzip headers carry no name or time, so the same records give the same bytes."""

    def __init__(self, directory: Path, split: str) -> None:
        self.directory, self.split = directory, split
        self.shards: list[str] = []
        self.files = self.bytes = self._shard_bytes = 0
        self._raw: IO[bytes] | None = None
        self._gzip: gzip.GzipFile | None = None
        self._open_next()

    def _open_next(self) -> None:
        self.close()
        name = f"{self.split}-{len(self.shards):05d}.jsonl.gz"
        self.shards.append(name)
        self._raw = open(self.directory / name, "wb")  # noqa: SIM115 (closed in close())
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._shard_bytes = 0

    def write(self, record: dict[str, str]) -> None:
        if self._shard_bytes >= SHARD_BYTES:
            self._open_next()
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        assert self._gzip is not None
        self._gzip.write(line)
        self._shard_bytes += len(line)
        self.files += 1
        self.bytes += len(record["text"].encode("utf-8"))

    def close(self) -> None:
        if self._gzip is not None and self._raw is not None:
            self._gzip.close()
            self._raw.close()
        self._gzip = self._raw = None

    def summary(self) -> dict[str, Any]:
        return {"files": self.files, "bytes": self.bytes, "shards": self.shards}


def write_shards(
    directory: Path, kept: list[KeptFile], seed: int, valid_fraction: float, tally: Tally
) -> dict[str, Any]:
    writers = {split: ShardWriter(directory, split) for split in SPLITS}
    licenses = _distribution_licenses()
    try:
        for item in kept:
            text, _ = read_source(item.source.root / item.path)
            if text is None or hashlib.sha256(text.encode()).hexdigest() != item.sha256:
                tally.drop(
                    "changed_during_build", "changed during the build", item.source, item.path
                )
                continue
            split = "valid" if in_valid_split(item.sha256, seed, valid_fraction) else "train"
            writers[split].write(_record(item, text, licenses))
            tally.kept[str(item.source.root)] += 1
    finally:
        for writer in writers.values():
            writer.close()
    return {split: writer.summary() for split, writer in writers.items()}


def _record(item: KeptFile, text: str, licenses: dict[str, str]) -> dict[str, str]:
    package = package_of(item.source, item.path)
    if item.source.kind == "site-packages" and package in licenses:
        license_ = licenses[package]
    else:
        license_ = _nearest_license(
            str((item.source.root / item.path).parent), str(item.source.root)
        )
    return {
        "text": text,
        "path": item.path,
        "source": str(item.source.root),
        "package": package,
        "license": license_,
        "sha256": item.sha256,
    }


# --- Licenses (best effort) -----------------------------------------------------------------


@lru_cache(maxsize=4096)
def _nearest_license(directory: str, root: str) -> str:
    """The first non-blank line of the nearest LICENSE/COPYING file at or above directory
    (up to root), or "" when there is none."""
    path = Path(directory)
    for name in sorted(os.listdir(path)) if path.is_dir() else []:
        if name.upper().startswith(LICENSE_NAMES) and (path / name).is_file():
            return _first_line(path / name)
    if directory == root or path.parent == path:
        return ""
    return _nearest_license(str(path.parent), root)


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return next((line.strip() for line in f if line.strip()), "")[:200]
    except OSError:
        return ""


def _distribution_licenses() -> dict[str, str]:
    """Top-level import name → the License field of the distribution that installs it."""
    import importlib.metadata

    licenses = {}
    for package, distributions in importlib.metadata.packages_distributions().items():
        metadata = importlib.metadata.metadata(distributions[0]).json
        value = metadata.get("license_expression") or metadata.get("license") or ""
        # Some distributions paste the whole license text here; that is no name.
        if isinstance(value, str) and value and "\n" not in value.strip():
            licenses[package] = value.strip()[:200]
    return licenses


# --- Output directory -----------------------------------------------------------------------


def check_output(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"{out}: exists and is not empty; choose another --out or pass --force")


# --- The build ------------------------------------------------------------------------------


def build_corpus(
    sources: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    stdlib: bool = False,
    site_packages: bool = False,
    workers: int | None = None,
    valid_fraction: float = 0.01,
    seed: int = 0,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Build a corpus from directories of Python files into out; return its manifest."""
    started = time.monotonic()
    _check_options(workers, valid_fraction)
    roots = resolve_sources(sources, stdlib=stdlib, site_packages=site_packages)
    out = Path(out).absolute()
    check_output(out, force)
    files = [(source, path) for source in roots for path in discover(source)]
    if not files:
        raise InputError(f"no .py files under {', '.join(str(s.root) for s in roots)}")
    index, benchmark = decontaminate.humaneval_index()
    tally = Tally()
    kept = select_files(files, index, workers or os.cpu_count() or 1, on_progress, tally)
    if not kept:
        raise InputError(f"no file is left after filtering: {_dropped_line(len(files), tally)}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp-", dir=out.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a corpus is an ordinary folder
    except OSError as e:
        raise OutputError(f"{out}: cannot write: {e.strerror}") from None
    try:
        splits = write_shards(tmp, kept, seed, valid_fraction, tally)
        manifest = _manifest(roots, tally, splits, benchmark, seed, valid_fraction, started)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_options(workers: int | None, valid_fraction: float) -> None:
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    if not 0 <= valid_fraction < 1:
        raise InputError(f"--valid-fraction must be in [0, 1), got {valid_fraction}")


def _dropped_line(found: int, tally: Tally) -> str:
    counts = {k: v for k, v in tally.filtered.items() if v} | dict(tally.dropped)
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"{found} files found; dropped: {detail}"


def _manifest(
    roots: list[Source],
    tally: Tally,
    splits: dict[str, Any],
    benchmark: dict[str, str],
    seed: int,
    valid_fraction: float,
    started: float,
) -> dict[str, Any]:
    from passk import __version__

    return {
        "format": "passk-corpus/1",
        "passk_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(time.monotonic() - started, 2),
        "sources": [_source_entry(s, tally) for s in roots],
        "counts": {
            "found": sum(tally.found.values()),
            "filtered": dict(tally.filtered),
            "contaminated": tally.dropped["contaminated"],
            "exact_duplicates": tally.dropped["exact_duplicates"],
            "near_duplicates": tally.dropped["near_duplicates"],
            "changed_during_build": tally.dropped["changed_during_build"],
            "kept": sum(tally.kept.values()),
        },
        "splits": splits,
        "seed": seed,
        "valid_fraction": valid_fraction,
        "thresholds": _thresholds(),
        "decontamination": benchmark,
        "examples": tally.examples,
    }


def _source_entry(source: Source, tally: Tally) -> dict[str, Any]:
    root = str(source.root)
    return {"root": root, "kind": source.kind, "found": tally.found[root], "kept": tally.kept[root]}


def _thresholds() -> dict[str, Any]:
    return {
        "max_file_bytes": MAX_FILE_BYTES,
        "max_average_line_length": filters.MAX_AVERAGE_LINE_LENGTH,
        "max_line_length": filters.MAX_LINE_LENGTH,
        "min_alphanumeric_fraction": filters.MIN_ALPHANUMERIC_FRACTION,
        "generated_markers": list(filters.GENERATED_MARKERS),
        "generated_suffixes": list(filters.GENERATED_SUFFIXES),
        "minhash_num_perm": dedup.NUM_PERM,
        "jaccard_threshold": dedup.JACCARD_THRESHOLD,
        "shingle_tokens": dedup.SHINGLE_TOKENS,
        "contamination_ngram": decontaminate.NGRAM,
        "entry_point_ngram": decontaminate.ENTRY_POINT_NGRAM,
        "shard_bytes": SHARD_BYTES,
    }
