"""Public data sets the tests check models against, fetched once into var/testdata.

The CDNOW sample (2357 customers of the CD retailer, 1997-01 to 1998-06) is the
data the BG/NBD and Gamma-Gamma papers report their estimates on. It ships
inside the ``lifetimes`` package; we only take the file from its wheel and never
install or import ``lifetimes``. ``make test`` fetches it before pytest
(``python -m tests.testdata``); a test run without it tries once itself and
skips with the reason if the download is impossible (e.g. no network).

Run ``python -m tests.testdata`` to fetch everything by hand.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

TESTDATA_DIR = Path(__file__).resolve().parent.parent / "var" / "testdata"
LIFETIMES_VERSION = "0.11.3"
CDNOW_MEMBER = "lifetimes/datasets/CDNOW_sample.txt"
CDNOW_SAMPLE = TESTDATA_DIR / "CDNOW_sample.txt"


class DataSetUnavailable(RuntimeError):
    """The file is not cached and could not be downloaded; the message says why."""


def _extract(archive: Path, member_suffix: str, target: Path) -> bool:
    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if name.endswith(member_suffix):
                    target.write_bytes(zf.read(name))
                    return True
    elif archive.name.endswith(".tar.gz"):
        with tarfile.open(archive) as tf:
            for info in tf.getmembers():
                if info.name.endswith(member_suffix) and info.isfile():
                    handle = tf.extractfile(info)
                    if handle is not None:
                        target.write_bytes(handle.read())
                        return True
    return False


def cdnow_sample() -> Path:
    """Path of CDNOW_sample.txt (whitespace-separated, no header: customer id,
    sample id, date YYYYMMDD, number of CDs, amount in dollars)."""
    if CDNOW_SAMPLE.exists():
        return CDNOW_SAMPLE
    TESTDATA_DIR.mkdir(parents=True, exist_ok=True)
    archives = sorted(TESTDATA_DIR.glob("[Ll]ifetimes-*"))
    if not archives:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            f"lifetimes=={LIFETIMES_VERSION}",
            "--no-deps",
            "--quiet",
            "-d",
            str(TESTDATA_DIR),
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DataSetUnavailable(f"could not run pip download: {exc}") from exc
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise DataSetUnavailable(
                f"pip download lifetimes=={LIFETIMES_VERSION} failed: {' '.join(tail)}"
            )
        archives = sorted(TESTDATA_DIR.glob("[Ll]ifetimes-*"))
    partial = CDNOW_SAMPLE.with_suffix(".part")
    for archive in archives:
        if _extract(archive, CDNOW_MEMBER.split("/", 1)[1], partial):
            partial.replace(CDNOW_SAMPLE)
            return CDNOW_SAMPLE
    raise DataSetUnavailable(f"{CDNOW_MEMBER} not found in {', '.join(map(str, archives))}")


if __name__ == "__main__":
    try:
        print(cdnow_sample())
    except DataSetUnavailable as exc:
        # Not fatal for `make test`: the CDNOW tests then skip and say why.
        print(f"test data unavailable: {exc}", file=sys.stderr)
