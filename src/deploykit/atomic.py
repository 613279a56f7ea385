"""Writing files so that readers see the old content or the new, never half of it: a temporary file in the same
folder, renamed over the target. Every OSError of a write becomes one of deploykit's errors with its own message:
no space (exit 11), or cannot write (exit 13) because the place is read-only, not ours to write, not a directory,
a directory where a file should go, or a link to nowhere."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from deploykit.errors import DeploykitError, DiskSpaceError, OutputWriteError


def write_error(exc: OSError, path: Path | str) -> DeploykitError:
    """The error to show for an OSError met while writing ``path``."""
    where = exc.filename or path
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return DiskSpaceError(f"no space left on the device to write {path}",
                              fix="free some space there, or write somewhere else")
    if code == errno.EROFS:
        return OutputWriteError(f"cannot write {path}: {where} is on a read-only file system",
                                fix="write to a writable place (another -o / --csv path, or DEPLOYKIT_STATE_DIR)")
    if code in (errno.EACCES, errno.EPERM):
        return OutputWriteError(f"cannot write {path}: permission denied on {where}",
                                fix="write somewhere you may write, or fix the folder's permissions")
    if code == errno.ENOTDIR:
        return OutputWriteError(f"cannot write {path}: a part of {where} is a file, not a directory",
                                fix="choose a path whose folders are folders")
    if code == errno.EISDIR:
        return OutputWriteError(f"cannot write {path}: {where} is a directory",
                                fix="remove or rename that directory, or choose another path")
    if code == errno.EEXIST:
        return OutputWriteError(f"cannot write {path}: {where} exists and is not a directory (a file, or a link "
                                "to nowhere)", fix="remove it, or choose another path")
    if code in (errno.ENOENT, errno.ELOOP):
        return OutputWriteError(f"cannot write {path}: {where} leads nowhere (a dangling or looping link?)",
                                fix="fix or remove the link, or choose another path")
    if code == errno.ENAMETOOLONG:
        return OutputWriteError(f"cannot write {path}: the name is too long", fix="choose a shorter path")
    return OutputWriteError(f"cannot write {path}: {exc.strerror or exc}", fix="choose another path")


def write_text(path: Path, text: str) -> None:
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise write_error(exc, path) from exc
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
