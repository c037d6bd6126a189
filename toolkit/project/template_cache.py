"""Compiled Jinja templates cached in one file, so an unchanged file skips Jinja's compiler.

Jinja's own FileSystemBytecodeCache opens one file per template on every run; with a thousand model files
those opens cost more than the rendering. This cache reads one file when the project loads and writes it once
afterwards. Each entry carries Jinja's checksum of the template source, so an edited file is recompiled."""

from __future__ import annotations

import marshal
import os
from pathlib import Path

import jinja2


class SingleFileBytecodeCache(jinja2.BytecodeCache):
    def __init__(self, path: Path, flavor: str = ""):
        self.path = path
        self.flavor = flavor  # what else shapes the compiled code (the sandbox's intercepted operators)
        self._stored: dict[str, bytes] = {}
        self._used: dict[str, bytes] = {}
        self._changed = False
        try:
            stored = marshal.loads(path.read_bytes())
            if isinstance(stored, dict):
                self._stored = stored
        except (OSError, EOFError, ValueError, TypeError):
            pass  # no cache yet, or an unreadable one: start afresh

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(f"{name}|{self.flavor}" if self.flavor else name, filename)

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._stored.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)  # ignored by Jinja when the checksum or Python differs
            if bucket.code is not None:
                self._used[bucket.key] = data

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._used[bucket.key] = bucket.bytecode_to_string()
        self._changed = True

    def entries(self) -> dict[str, bytes]:
        """The compiled templates this process used or made (a worker's, to merge into the loader's cache)."""
        return dict(self._used)

    def merge(self, entries: dict[str, bytes]) -> None:
        changed = any(self._stored.get(key) != data for key, data in entries.items())
        self._used.update(entries)
        self._changed = self._changed or changed

    def save(self) -> None:
        """Write the entries this run used (dropping those of deleted files); silently skipped when the
        target folder cannot be written."""
        if not self._changed and self._used.keys() == self._stored.keys():
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
            partial.write_bytes(marshal.dumps(self._used))
            partial.replace(self.path)
        except OSError:
            pass
