"""The sample app's slug, made from its code as Heroku's slug compiler leaves one: a ``.tgz`` of ``./app`` (Dev
Center "Platform API: Creating Slugs from Scratch") holding the Procfile, the app's code and the ``.profile.d``
script a buildpack writes. The Heroku stand-in serves it as the current release's slug with its SHA256; the build
stage verifies, unpacks and runs it.

Deterministic: members sorted, mtimes and owners fixed, gzip without a timestamp, so the checksum only changes
with the code.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from pathlib import Path

from . import SLUG_DIR

__all__ = ["slug_archive", "slug_files", "slug_checksum"]

_APP = Path(__file__).parent
_MTIME = 1_700_000_000


def slug_files() -> dict[str, Path]:
    """``{path under ./app: source file}``: the Procfile at the top, the app's package where ``python -m
    heroku2aws_rehearsal.sample_app.<process>`` finds it from ``/app``, and the slug's ``.profile.d``."""
    files: dict[str, Path] = {"Procfile": _APP / "Procfile",
                              "heroku2aws_rehearsal/__init__.py": _APP.parent / "__init__.py"}
    for source in sorted(_APP.glob("*.py")):
        files[f"heroku2aws_rehearsal/sample_app/{source.name}"] = source
    files["heroku2aws_rehearsal/sample_app/Procfile"] = _APP / "Procfile"
    for script in sorted((Path(SLUG_DIR) / ".profile.d").glob("*.sh")):
        files[f".profile.d/{script.name}"] = script
    return files


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _MTIME
    tar.addfile(info)


def slug_archive() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        files = slug_files()
        dirs = {"./app"}
        for rel in files:
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("./app/" + "/".join(parts[:i]))
        for d in sorted(dirs):
            _add_dir(tar, d)
        for rel, source in sorted(files.items()):
            data = source.read_bytes()
            info = tarfile.TarInfo(f"./app/{rel}")
            info.size, info.mtime = len(data), _MTIME
            info.mode = 0o755 if rel.startswith(".profile.d/") else 0o644
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def slug_checksum(archive: bytes) -> str:
    return "SHA256:" + hashlib.sha256(archive).hexdigest()
