"""The address phones on the LAN open to join, and its QR code."""

from __future__ import annotations

import contextlib
import io
import socket
from urllib.parse import urlencode

import segno

JOIN_PATH = "join"


def lan_address() -> str:
    """This machine's address on its local network: the source address the OS would use to
    reach a private address (a UDP 'connect' sends no packet); 127.0.0.1 when offline."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return str(s.getsockname()[0])
    return "127.0.0.1"


def join_url(host: str, port: int, code: str) -> str:
    return f"http://{host}:{int(port)}/{JOIN_PATH}?{urlencode({'code': code})}"


def qr_png(text: str, scale: int = 8) -> bytes:
    """A QR code of ``text`` as PNG bytes (error correction M, a quiet zone of 4 modules)."""
    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()
