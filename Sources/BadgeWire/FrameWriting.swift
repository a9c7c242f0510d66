import BadgeCodec
import BadgeModel
import NIOCore

extension ByteBuffer {
    /// Appends one server frame: length prefix, then the envelope packed in place.
    public mutating func writeResponseFrame(_ header: ResponseHeader, payload: UnsafeRawBufferPointer) {
        writeResponseFrame(header, payload: payload, size: Envelope.responseSize(header, payloadCount: payload.count))
    }

    /// Appends one server frame whose envelope size the caller has already computed
    /// (`Envelope.responseSize`), say to check it against a limit first.
    public mutating func writeResponseFrame(_ header: ResponseHeader, payload: UnsafeRawBufferPointer, size: Int) {
        writeFrame(size: size) { Envelope.encodeResponse(header, payload: payload, into: $0) }
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
        writeRequestFrame(header, payload: payload, size: Envelope.requestSize(header, payloadCount: payload.count))
    }

    /// Appends one client frame whose envelope size the caller has already computed
    /// (`Envelope.requestSize`), say to check it against a limit first.
    public mutating func writeRequestFrame(_ header: RequestHeader, payload: UnsafeRawBufferPointer, size: Int) {
        writeFrame(size: size) { Envelope.encodeRequest(header, payload: payload, into: $0) }
    }

    /// The u32 length prefix, then `size` bytes written in place by `encode`.
    private mutating func writeFrame(size: Int, _ encode: (UnsafeMutableRawBufferPointer) -> Void) {
        writeInteger(UInt32(size))
        writeWithUnsafeMutableBytes(minimumWritableBytes: size) { buffer in
            encode(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
            return size
        }
    }
}
