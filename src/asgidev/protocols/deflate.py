"""Per-message deflate for WebSockets (RFC 7692): choosing an offer, and wsproto's extension made safe for pings.

Sans-IO, like the rest of ``protocols``; used by ``protocols/websocket.py``.
"""

from __future__ import annotations

import zlib
from typing import Final

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

# zlib's fastest level for what the server sends. A development server's peer is
# nearly always on this machine, where a better ratio saves nothing; level 1
# compresses JSON and HTML several times faster than zlib's default (6), which
# made compressing the server's messages most of a large-message echo's cost.
COMPRESSION_LEVEL: Final = 1


class _PerMessageDeflate(PerMessageDeflate):
    """wsproto's deflate at COMPRESSION_LEVEL, and a control frame between the fragments of a message leaves it alone.

    RFC 6455 section 5.4 lets a ping arrive between two fragments; wsproto's
    extension then forgets it was inflating a message and hands the next
    fragment on still compressed (a 1007 for text). Control frames are never
    compressed (RFC 7692 section 6), so they can pass by untouched.
    """

    def frame_outbound(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY):
            # A message starts: compress at COMPRESSION_LEVEL, not zlib's default (wsproto would make it now).
            bits = self.client_max_window_bits if proto.client else self.server_max_window_bits
            self._compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -int(bits))
        return super().frame_outbound(proto, opcode, rsv, data, fin)

    def frame_inbound_header(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        if opcode.iscontrol():
            return CloseReason.PROTOCOL_ERROR if rsv.rsv1 else RsvBits(False, False, False)
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_payload_data(self, proto: FrameDecoder | FrameProtocol, data: bytes) -> bytes | CloseReason:
        if _is_control_frame(proto):
            return data
        return super().frame_inbound_payload_data(proto, data)

    def frame_inbound_complete(self, proto: FrameDecoder | FrameProtocol, fin: bool) -> bytes | CloseReason | None:
        if _is_control_frame(proto):
            return None
        return super().frame_inbound_complete(proto, fin)


def _is_control_frame(proto: FrameDecoder | FrameProtocol) -> bool:
    header = proto.header if isinstance(proto, FrameDecoder) else None
    return header is not None and header.opcode.iscontrol()


def negotiate_deflate(offers: list[str]) -> tuple[PerMessageDeflate, bytes] | None:
    """The first permessage-deflate offer we can accept (RFC 7692 section 5), and its response value."""
    for offer in offers:
        if offer.split(";", 1)[0].strip() != PerMessageDeflate.name:
            continue
        extension = _PerMessageDeflate()
        try:
            params = extension.accept(offer)
        except ValueError:  # wsproto parses window bits with int(); a malformed offer is declined
            continue
        if isinstance(params, str):
            value = PerMessageDeflate.name + ("; " + params if params else "")
            return extension, value.encode("ascii")
    return None
