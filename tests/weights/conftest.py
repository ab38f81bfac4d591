"""Fixtures of the weights tests: isolated caches, test-made cards, a local HTTP server."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import urllib.parse

import pytest

HUB_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


@pytest.fixture
def caches(tmp_path, monkeypatch):
    """Fresh evalkit and Hugging Face caches, online mode."""
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "evalkit"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("EVALKIT_OFFLINE", raising=False)
    return tmp_path


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return calls


@pytest.fixture
def local_network_only(monkeypatch):
    """Connections to anything but 127.0.0.1 fail the test."""
    real = socket.socket.connect

    def connect(sock, address):
        if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
            raise AssertionError(f"network access attempted: {address}")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (path → bytes) with Range support, a connection drop on the
    first transfer of paths in ``server.drop_first``, and a Google-Drive-style confirm page
    for ``/uc?export=download&id=<name>`` without ``confirm``."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _hub_headers(self, data: bytes) -> None:
        """What the Hugging Face hub sends with a resolve/ response."""
        self.send_header("ETag", '"%s"' % hashlib.sha256(data).hexdigest())
        self.send_header("X-Repo-Commit", HUB_COMMIT)

    def do_HEAD(self):
        self.server.auth.append(self.headers.get("Authorization"))
        data = self.server.files.get(urllib.parse.urlsplit(self.path).path)
        self.send_response(200 if data is not None else 404)
        if data is not None:
            self._hub_headers(data)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()

    def do_GET(self):
        srv = self.server
        srv.auth.append(self.headers.get("Authorization"))
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        srv.requests.append((parts.path, dict(query), self.headers.get("Range")))
        if parts.path in ("/uc", "/download") and "id" in query:
            if query.get("confirm") != "t0ken":
                return self._confirm_page(query["id"])
            name = "/" + query["id"]
        else:
            name = parts.path
        if name not in srv.files:
            self.send_error(404)
            return
        data = srv.files[name]
        start = 0
        rng = self.headers.get("Range")
        if rng and srv.ranges:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        if "/resolve/" in name:
            self._hub_headers(data)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in srv.drop_first:
            srv.drop_first.discard(name)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def _confirm_page(self, fid: str) -> None:
        style = self.server.confirm_style
        if style == "form":
            page = (
                '<html><body><p>Google Drive can\'t scan this file for viruses.</p>'
                '<form id="download-form" action="/download" method="get">'
                '<input type="submit" value="Download anyway"/>'
                f'<input type="hidden" name="id" value="{fid}">'
                '<input type="hidden" name="export" value="download">'
                '<input type="hidden" name="confirm" value="t0ken">'
                '<input type="hidden" name="uuid" value="abc-123"></form></body></html>'
            )
        elif style == "none":
            page = "<html><body>Too many users have viewed or downloaded this file.</body></html>"
        else:
            page = ('<html><body><a id="uc-download-link" '
                    f'href="/uc?export=download&amp;confirm=t0ken&amp;id={fid}">Download anyway</a>'
                    '</body></html>')
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def http_server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.files, srv.drop_first, srv.requests, srv.auth = {}, set(), [], []
    srv.ranges, srv.confirm_style = True, "form"
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
