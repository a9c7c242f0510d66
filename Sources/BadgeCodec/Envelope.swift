import BadgeModel
internal import BadgeWireC

/// The envelope fields of a client frame (`badges.v1.RequestFrame`) other than its payload.
public struct RequestHeader: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case call
        case cancel
    }
    public var callId: UInt64
    public var kind: Kind
    public var method: String
    /// Relative deadline in microseconds; 0 = none.
    public var timeoutMicros: UInt64
    public var metadata: [String: String]

    public init(
        callId: UInt64, kind: Kind = .call, method: String = "", timeoutMicros: UInt64 = 0,
        metadata: [String: String] = [:]
    ) {
        self.callId = callId
        self.kind = kind
        self.method = method
        self.timeoutMicros = timeoutMicros
        self.metadata = metadata
    }
}

/// The envelope fields of a server frame (`badges.v1.ResponseFrame`) other than its payload.
public struct ResponseHeader: Sendable, Hashable {
    public var callId: UInt64
    public var endOfCall: Bool
    public var status: BadgeError.Code
    public var message: String
    public var reason: String

    public init(
        callId: UInt64, endOfCall: Bool = true, status: BadgeError.Code = .ok, message: String = "", reason: String = ""
    ) {
        self.callId = callId
        self.endOfCall = endOfCall
        self.status = status
        self.message = message
        self.reason = reason
    }

    /// The final frame of a call that failed with `error`.
    public init(callId: UInt64, error: BadgeError) {
        self.init(callId: callId, endOfCall: true, status: error.code, message: error.message, reason: error.reason)
    }
}

/// Packs and unpacks envelopes. Payloads are handed over as raw bytes so that a frame is decoded
/// once and its payload read in place, without copying.
public enum Envelope {
    /// Decodes a client frame and calls `body` with its header and payload (valid only inside `body`).
    public static func decodeRequest<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (RequestHeader, UnsafeRawBufferPointer) throws(BadgeError) -> R
    ) throws(BadgeError) -> R {
        try Badges__V1__RequestFrame.withUnpacked(bytes, what: "badges.v1.RequestFrame") { c throws(BadgeError) in
            let m = c.pointee
            let header = RequestHeader(
                callId: m.call_id, kind: m.kind == BADGES__V1__REQUEST_FRAME__KIND__CANCEL ? .cancel : .call,
                method: swiftString(m.method), timeoutMicros: m.timeout_micros,
                metadata: swiftMap(m.n_metadata, m.metadata))
            return try body(header, UnsafeRawBufferPointer(start: m.payload.data, count: m.payload.len))
        }
    }

    /// Decodes a server frame and calls `body` with its header and payload (valid only inside `body`).
    public static func decodeResponse<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (ResponseHeader, UnsafeRawBufferPointer) throws(BadgeError) -> R
    ) throws(BadgeError) -> R {
        try Badges__V1__ResponseFrame.withUnpacked(bytes, what: "badges.v1.ResponseFrame") { c throws(BadgeError) in
            let m = c.pointee
            let header = ResponseHeader(
                callId: m.call_id, endOfCall: m.end_of_call != 0,
                status: BadgeError.Code(rawValue: Int32(bitPattern: m.status.rawValue)) ?? .unknown,
                message: swiftString(m.message), reason: swiftString(m.reason))
            return try body(header, UnsafeRawBufferPointer(start: m.payload.data, count: m.payload.len))
        }
    }

    /// Builds a client frame and hands `write` its packed size and a function that packs it into memory
    /// of at least that size (returning the bytes written).
    public static func encodeRequest<R>(
        _ header: RequestHeader, payload: UnsafeRawBufferPointer,
        _ write: (Int, (UnsafeMutableRawPointer) -> Int) -> R
    ) -> R {
        let arena = EncodeArena()
        let c = arena.message(Badges__V1__RequestFrame.self)
        c.pointee.call_id = header.callId
        c.pointee.kind =
            header.kind == .cancel ? BADGES__V1__REQUEST_FRAME__KIND__CANCEL : BADGES__V1__REQUEST_FRAME__KIND__CALL
        c.pointee.method = arena.string(header.method)
        c.pointee.timeout_micros = header.timeoutMicros
        (c.pointee.n_metadata, c.pointee.metadata) = arena.map(Badges__V1__MetadataEntry.self, header.metadata)
        c.pointee.payload = arena.bytes(payload)
        return withExtendedLifetime(arena) {
            write(Badges__V1__RequestFrame.packedSize(c)) {
                Badges__V1__RequestFrame.pack(c, $0.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    /// Builds a server frame; see `encodeRequest`.
    public static func encodeResponse<R>(
        _ header: ResponseHeader, payload: UnsafeRawBufferPointer,
        _ write: (Int, (UnsafeMutableRawPointer) -> Int) -> R
    ) -> R {
        let arena = EncodeArena()
        let c = arena.message(Badges__V1__ResponseFrame.self)
        c.pointee.call_id = header.callId
        c.pointee.end_of_call = header.endOfCall ? 1 : 0
        c.pointee.status = Badges__V1__StatusCode(rawValue: UInt32(bitPattern: header.status.rawValue))
        c.pointee.message = arena.string(header.message)
        c.pointee.reason = arena.string(header.reason)
        c.pointee.payload = arena.bytes(payload)
        return withExtendedLifetime(arena) {
            write(Badges__V1__ResponseFrame.packedSize(c)) {
                Badges__V1__ResponseFrame.pack(c, $0.assumingMemoryBound(to: UInt8.self))
            }
        }
    }
}
