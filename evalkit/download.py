"""Resumable, verified HTTP downloads (weight files, dataset archives).

:func:`download_url` streams a URL into ``<dest>.part`` (resuming an existing ``.part`` with an
HTTP ``Range`` request), hashes it on the way, checks the sha256 when one is expected, and only
then renames it to ``dest``: a file in the cache is always complete and verified. A wrong hash
deletes the partial file, so it is never used or resumed from.

Share links of the hosts the official checkpoints live on are rewritten to direct downloads
(:func:`direct_url`): Google Drive ``file/d/<id>/view`` links, SharePoint / OneDrive share
links. Google Drive answers large files with an HTML "can't scan this file for viruses" page
whose form (or ``confirm=`` link, or ``download_warning`` cookie) leads to the file; it is
followed automatically (:func:`_drive_confirm_url`).

Only the standard library is used (urllib), so it works wherever Python does.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import html
import http.client
import logging
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from .errors import WeightsError

__all__ = ["direct_url", "download_url", "sha256_file"]

log = logging.getLogger("evalkit.download")

CHUNK = 1 << 20
USER_AGENT = "evalkit-weights/0.1"


def sha256_file(path: Path, chunk: int = CHUNK) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


# -- share links -------------------------------------------------------------------------------
_DRIVE_FILE = re.compile(r"^https?://drive\.google\.com/file/d/([\w-]+)")
_DRIVE_OPEN = re.compile(r"^https?://drive\.google\.com/(?:open|uc)\?(?:.*&)?id=([\w-]+)")


def drive_file_id(url: str) -> str | None:
    m = _DRIVE_FILE.match(url) or _DRIVE_OPEN.match(url)
    return m.group(1) if m else None


def direct_url(url: str) -> str:
    """Rewrite a share link to a URL that serves the file bytes.

    * Google Drive ``/file/d/<id>/view`` or ``open?id=<id>`` → ``uc?export=download&id=<id>``
      (large files then answer with a confirm page, handled by :func:`download_url`).
    * SharePoint / OneDrive-for-Business share links (``*.sharepoint.com/:u:/...`` and
      ``/:f:/`` folders) → the same link with its query replaced by ``download=1``, which
      serves the file (a folder arrives as a zip archive).
    * Personal OneDrive ``1drv.ms`` / ``onedrive.live.com`` links → the OneDrive shares API
      ``/shares/u!<base64url(link)>/root/content``.
    Other URLs are returned unchanged.
    """
    fid = drive_file_id(url)
    if fid:
        return f"https://drive.google.com/uc?export=download&id={fid}"
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host.endswith(".sharepoint.com") and re.match(r"^/:\w:/", parts.path):
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "download=1", ""))
    if host in ("1drv.ms", "onedrive.live.com"):
        token = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        return f"https://api.onedrive.com/v1.0/shares/u!{token}/root/content"
    return url


def _drive_confirm_url(page: str, url: str, cookies: dict[str, str]) -> str | None:
    """The URL behind Google Drive's virus-scan warning page, or None if ``page`` is not one.

    Three generations of the page exist: a ``<form id="download-form" action=...>`` with hidden
    inputs (current), a link carrying ``confirm=<token>`` (older), and a
    ``download_warning_*`` cookie whose value is the token (oldest)."""
    form = re.search(r'<form[^>]*id="download-form"[^>]*action="([^"]+)"[^>]*>(.*?)</form>',
                     page, re.S)
    if form:
        action = html.unescape(form.group(1))
        fields = re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"',
                            form.group(2))
        query = urllib.parse.urlencode([(k, html.unescape(v)) for k, v in fields])
        return urllib.parse.urljoin(url, action) + ("&" if "?" in action else "?") + query
    link = re.search(r'href="(/uc\?export=download[^"]*confirm=[^"]+)"', page)
    if link:
        return urllib.parse.urljoin(url, html.unescape(link.group(1)))
    for name, value in cookies.items():
        if name.startswith("download_warning"):
            return _with_query(url, confirm=value)
    return None


def _with_query(url: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update(params)
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


# -- transfer ----------------------------------------------------------------------------------
def _open(url: str, start: int, timeout: float, headers: dict[str, str]):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    if start:
        req.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(req, timeout=timeout)


def _cookies(resp) -> dict[str, str]:
    out = {}
    for header in resp.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        out[name.strip()] = rest.split(";", 1)[0]
    return out


def _progress(total: int | None, desc: str):
    """A rich progress bar on stderr (a no-op object when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn(), transient=True)
    bar.start()
    bar.add_task(desc, total=total)
    return bar


def download_url(
    url: str,
    dest: Path,
    sha256: str | None = None,
    *,
    retries: int = 2,
    timeout: float = 60.0,
    headers: dict[str, str] | None = None,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> str:
    """Download ``url`` to ``dest`` and return the file's sha256.

    The transfer writes ``dest.part``; a dropped connection is retried up to ``retries`` times,
    each time resuming from the bytes already on disk (``Range: bytes=N-``; a server that
    ignores the range restarts from zero). A failure that a retry cannot fix (the host name does
    not resolve, the connection is refused: no network, a wrong host) is not retried. With ``sha256`` given, a mismatch raises
    :class:`WeightsError` and deletes the partial file. ``dest`` appears only when complete.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # One writer per file: several ranks or processes fetching the same checkpoint queue here,
    # and the later ones find the finished file instead of racing on the same .part.
    with open(dest.with_name(dest.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if dest.is_file():
            digest = sha256_file(dest)
            if sha256 is None or digest == sha256:
                return digest
            dest.unlink()
        return _download_locked(url, dest, sha256, retries, timeout, dict(headers or {}),
                                on_retry)


def _download_locked(url, dest, sha256, retries, timeout, headers, on_retry) -> str:
    part = dest.with_name(dest.name + ".part")
    url = direct_url(url)
    attempt = confirms = 0
    while True:
        try:
            digest = _transfer(url, part, timeout, headers)
            break
        except _DriveConfirm as confirm:
            confirms += 1  # the confirm page is not a failure: follow it at once, a few times
            if confirms > 3:
                raise WeightsError(f"{url}: the download keeps answering with a confirm page") from None
            url = confirm.url
            continue
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code == 416 and part.exists():
                part.unlink()  # the range lies past the end: the .part is stale, start over
            elif isinstance(exc, urllib.error.HTTPError) and exc.code not in _RETRY_STATUS:
                part.unlink(missing_ok=True)
                raise WeightsError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
            have = part.stat().st_size if part.exists() else 0
            kept = (f"the {have} bytes received are kept in {part} and the next attempt resumes "
                    f"from there" if have else "nothing was received")
            if _unreachable(exc):
                raise WeightsError(f"download of {url} failed: {_reason(exc)} (not retried: no "
                                   f"network, or a wrong host); {kept}") from None
            attempt += 1
            if attempt > retries:
                raise WeightsError(
                    f"download of {url} failed after {retries} retries: {_reason(exc)}; {kept}"
                ) from None
            log.warning("download of %s interrupted (%s); %s (retry %d/%d)", url, _reason(exc),
                        f"resuming from byte {have}" if have else "starting again", attempt, retries)
            if on_retry:
                on_retry(attempt, exc)
            time.sleep(min(0.2 * 2 ** (attempt - 1), 5.0))
    if sha256 is not None and digest != sha256:
        part.unlink(missing_ok=True)
        raise WeightsError(
            f"sha256 mismatch for {dest.name} downloaded from {url}: expected {sha256}, got "
            f"{digest}; the partial file was deleted"
        )
    os.replace(part, dest)
    return digest


_RETRY_STATUS = (408, 429, 500, 502, 503, 504)


def _reason(exc: BaseException) -> str:
    """The underlying cause of a urllib error, readable (``URLError(gaierror(...))`` → its text)."""
    inner = getattr(exc, "reason", None)
    return f"{type(inner).__name__}: {inner}" if isinstance(inner, BaseException) else f"{type(exc).__name__}: {exc}"


def _unreachable(exc: BaseException) -> bool:
    """DNS failure or refused connection: retrying the same URL at once cannot succeed."""
    inner = getattr(exc, "reason", exc)
    return isinstance(inner, (socket.gaierror, ConnectionRefusedError))


class _DriveConfirm(Exception):
    def __init__(self, url: str):
        self.url = url


def _transfer(url: str, part: Path, timeout: float, headers: dict[str, str]) -> str:
    """One attempt: append to ``part`` from its current size; return the sha256 of the whole
    file once the server reports the end of the body."""
    start = part.stat().st_size if part.exists() else 0
    with _open(url, start, timeout, headers) as resp:
        ctype = resp.headers.get("Content-Type", "")
        if ctype.startswith("text/html"):
            page = resp.read(2_000_000).decode("utf-8", "replace")
            confirm = _drive_confirm_url(page, url, _cookies(resp))
            if confirm and confirm != url:
                raise _DriveConfirm(confirm)
            raise WeightsError(
                f"{url} answered with an HTML page instead of a file (a login page, a quota "
                f"message or a removed file?); first bytes: {page[:200]!r}"
            )
        if start and resp.status != 206:
            log.info("server ignored the Range request for %s; restarting from byte 0", url)
            start = 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        h = hashlib.sha256()
        if start:
            with open(part, "rb") as f:
                for block in iter(lambda: f.read(CHUNK), b""):
                    h.update(block)
        bar = _progress(total, part.name[:-5])
        try:
            with open(part, "ab" if start else "wb") as out:
                received = start
                if bar:
                    bar.update(bar.task_ids[0], completed=received)
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    received += len(block)
                    if bar:
                        bar.update(bar.task_ids[0], completed=received)
        finally:
            if bar:
                bar.stop()
        if total is not None and received < total:
            raise http.client.IncompleteRead(b"", total - received)
    return h.hexdigest()

