import BadgeCodec
import BadgeModel
import NIOCore

extension ByteBuffer {
    /// Appends one server frame: length prefix, then the envelope packed in place.
    public mutating func writeResponseFrame(_ header: ResponseHeader, payload: UnsafeRawBufferPointer) {
        Envelope.encodeResponse(header, payload: payload) { size, pack in writeFrame(size: size, pack: pack) }
    }

    /// Appends a server frame carrying `message` as its payload.
    public mutating func writeResponseFrame(_ header: ResponseHeader, message: some WireMessage) {
        message.encoded().withUnsafeBytes { writeResponseFrame(header, payload: $0) }
    }

    /// Appends a final server frame for a failed call.
    public mutating func writeErrorFrame(callId: UInt64, _ error: BadgeError) {
        writeResponseFrame(
            ResponseHeader(callId: callId, error: error), payload: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Appends one client frame.
    public mutating func writeRequestFrame(_ header: RequestHeader, payload: UnsafeRawBufferPointer) {
        Envelope.encodeRequest(header, payload: payload) { size, pack in writeFrame(size: size, pack: pack) }
    }

    private mutating func writeFrame(size: Int, pack: (UnsafeMutableRawPointer) -> Int) {
        writeInteger(UInt32(size))
        writeWithUnsafeMutableBytes(minimumWritableBytes: size) { buffer in
            size == 0 ? 0 : pack(buffer.baseAddress!)
        }
    }
}
