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
# The server always answers with server_no_context_takeover (RFC 7692 section
# 7.1.1.1 lets it, whatever the offer): each message it sends is compressed on
# its own. So no compressor (about 260 KiB at zlib's defaults) is kept per
# connection between messages, and each message gets the compressor that suits
# it: a window no larger than the message (a 50-byte message then costs 3 µs
# to compress, not the 27 µs of setting up a full-size compressor), and for
# data that does not compress, entropy coding alone. Images, PDFs and
# already-compressed data shrink by 5 to 15% at level 1, for 5 to 8 ms per
# 128 KiB; Huffman coding alone keeps most of that saving at a quarter of the
# time. A message is taken for such data when a level-1 trial of its first
# SAMPLE_BYTES does not shrink to WORTHWHILE_RATIO (on Autobahn's data: text
# 0.40-0.54, JSON and HTML 0.06-0.35; the bitmap a median of 0.91, the PDF 0.99).
SAMPLE_BYTES: Final = 4096
WORTHWHILE_RATIO: Final = 0.75
# zlib's smallest and largest windows for raw deflate: 2**9 and 2**15 bytes.
MIN_WINDOW_BITS: Final = 9
MAX_WINDOW_BITS: Final = 15


class _PerMessageDeflate(PerMessageDeflate):
    """wsproto's deflate with a compressor chosen for each message, and a ping between the fragments of a message left alone.

    RFC 6455 section 5.4 lets a ping arrive between two fragments; wsproto's
    extension then forgets it was inflating a message and hands the next
    fragment on still compressed (a 1007 for text). Control frames are never
    compressed (RFC 7692 section 6), so they can pass by untouched.
    """

    def frame_outbound(
        self, proto: FrameDecoder | FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        if self._compressor is None and (opcode is Opcode.TEXT or opcode is Opcode.BINARY):
            # A message starts (wsproto would make zlib's default compressor now).
            bits = self.client_max_window_bits if proto.client else self.server_max_window_bits
            self._compressor = compressor_for(data, int(bits))
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


def compressor_for(data: bytes, max_window_bits: int) -> zlib._Compress:
    """A compressor for one message that starts with ``data``, within the negotiated window.

    A smaller window than the peer's inflater expects is always readable by it
    (RFC 7692 section 7.1.2.1 bounds only the largest).
    """
    strategy = zlib.Z_DEFAULT_STRATEGY if len(data) <= SAMPLE_BYTES or _shrinks_enough(data) else zlib.Z_HUFFMAN_ONLY
    return _compressor(len(data), max_window_bits, strategy)


def _compressor(size: int, max_window_bits: int, strategy: int = zlib.Z_DEFAULT_STRATEGY) -> zlib._Compress:
    """A level-1 compressor whose window (and hash table) is the smallest that holds ``size`` bytes."""
    bits = min(max_window_bits, max(MIN_WINDOW_BITS, (size - 1).bit_length()))
    # zlib's hash table follows the window: memLevel 8 (its default) for a full-size window.
    return zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -bits, bits - 7, strategy)


def _shrinks_enough(data: bytes) -> bool:
    """Whether a level-1 trial of the first SAMPLE_BYTES of ``data`` shrinks them to WORTHWHILE_RATIO or less."""
    sample = bytes(data[:SAMPLE_BYTES])
    trial = _compressor(len(sample), MAX_WINDOW_BITS)
    return len(trial.compress(sample)) + len(trial.flush()) <= len(sample) * WORTHWHILE_RATIO


def _is_control_frame(proto: FrameDecoder | FrameProtocol) -> bool:
    header = proto.header if isinstance(proto, FrameDecoder) else None
    return header is not None and header.opcode.iscontrol()


def negotiate_deflate(offers: list[str]) -> tuple[PerMessageDeflate, bytes] | None:
    """The first permessage-deflate offer we can accept (RFC 7692 section 5), and its response value."""
    for offer in offers:
        if offer.split(";", 1)[0].strip() != PerMessageDeflate.name:
            continue
        extension = _PerMessageDeflate(server_no_context_takeover=True)
        try:
            params = extension.accept(offer)
        except ValueError:  # wsproto parses window bits with int(); a malformed offer is declined
            continue
        if isinstance(params, str):
            value = PerMessageDeflate.name + ("; " + params if params else "")
            return extension, value.encode("ascii")
    return None
