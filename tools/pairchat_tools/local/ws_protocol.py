"""uvicorn's ``websockets-sansio`` protocol, plus the answer to a handshake it cannot parse.

A request line over 8 KB (``websockets``' ``MAX_LINE_LENGTH``) or a header line that long
makes ``websockets`` reject the handshake with ``414 URI Too Long`` or ``431 Request Header
Fields Too Large``; it queues that response, but uvicorn (0.3x to at least 0.54) sends only
what follows a parsed request, so the client waited for an answer that never came and the
socket stayed open. This subclass sends the queued rejection and closes the connection.
"""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_initiated or self.conn.handshake_exc is None:
            return
        # The handshake failed before a request was parsed: send what websockets answered
        # (a 414/431 response, or nothing for garbage) and close, as after any refusal.
        output = b"".join(self.conn.data_to_send())
        if output and not self.transport.is_closing():
            self.transport.write(output)
        self.handshake_complete = True
        self.close_sent = True
        self.transport.close()
