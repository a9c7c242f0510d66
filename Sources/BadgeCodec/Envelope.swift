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

/// Packs and unpacks envelopes. Every call crosses here twice, so the envelope is read and written
/// by hand (`badges.v1.RequestFrame` / `ResponseFrame` wire format, fields in number order, proto3
/// defaults left out): no protobuf-c structs, no copies of the payload, no allocation for a known
/// method name or empty metadata.
public enum Envelope {
    /// Decodes a client frame and calls `body` with its header and payload (valid only inside `body`).
    public static func decodeRequest<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (RequestHeader, UnsafeRawBufferPointer) throws(BadgeError) -> R
    ) throws(BadgeError) -> R {
        var header = RequestHeader(callId: 0)
        var payload = UnsafeRawBufferPointer(start: nil, count: 0)
        var reader = FieldReader(bytes)
        while !reader.atEnd {
            let (field, value) = try reader.field(in: "badges.v1.RequestFrame", bytes.count)
            switch (field, value) {
            case (1, .varint(let callId)): header.callId = callId
            case (2, .varint(let kind)): header.kind = kind == 1 ? .cancel : .call
            case (3, .bytes(let method)): header.method = Method.name(method)
            case (4, .varint(let timeout)): header.timeoutMicros = timeout
            case (5, .bytes(let entry)):
                let (key, value) = try metadataEntry(entry, bytes.count)
                header.metadata[key] = value
            case (6, .bytes(let bytes)): payload = bytes
            case (1...6, _): throw malformed("badges.v1.RequestFrame", bytes.count)
            default: break  // an unknown field: skipped, as protobuf does
            }
        }
        return try body(header, payload)
    }

    /// Decodes a server frame and calls `body` with its header and payload (valid only inside `body`).
    public static func decodeResponse<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (ResponseHeader, UnsafeRawBufferPointer) throws(BadgeError) -> R
    ) throws(BadgeError) -> R {
        var header = ResponseHeader(callId: 0, endOfCall: false)
        var payload = UnsafeRawBufferPointer(start: nil, count: 0)
        var reader = FieldReader(bytes)
        while !reader.atEnd {
            let (field, value) = try reader.field(in: "badges.v1.ResponseFrame", bytes.count)
            switch (field, value) {
            case (1, .varint(let callId)): header.callId = callId
            case (2, .varint(let end)): header.endOfCall = end != 0
            case (3, .varint(let status)):
                header.status = BadgeError.Code(rawValue: Int32(truncatingIfNeeded: status)) ?? .unknown
            case (4, .bytes(let message)): header.message = String(decoding: message, as: UTF8.self)
            case (5, .bytes(let bytes)): payload = bytes
            case (6, .bytes(let reason)): header.reason = String(decoding: reason, as: UTF8.self)
            case (1...6, _): throw malformed("badges.v1.ResponseFrame", bytes.count)
            default: break
            }
        }
        return try body(header, payload)
    }

    /// The encoded size of a client frame.
    public static func requestSize(_ header: RequestHeader, payloadCount: Int) -> Int {
        var size = varintFieldSize(1, header.callId) + varintFieldSize(2, header.kind == .cancel ? 1 : 0)
        size += bytesFieldSize(3, header.method.utf8.count) + varintFieldSize(4, header.timeoutMicros)
        for (key, value) in header.metadata.sorted(by: { $0.key < $1.key }) {
            size += bytesFieldSize(
                5, bytesFieldSize(1, key.utf8.count) + bytesFieldSize(2, value.utf8.count), always: true)
        }
        return size + bytesFieldSize(6, payloadCount)
    }

    /// Writes a client frame of `requestSize` bytes at `out`.
    public static func encodeRequest(
        _ header: RequestHeader, payload: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer
    ) {
        var writer = FieldWriter(out)
        writer.varintField(1, header.callId)
        writer.varintField(2, header.kind == .cancel ? 1 : 0)
        writer.stringField(3, header.method)
        writer.varintField(4, header.timeoutMicros)
        // Sorted, so the same header always encodes to the same bytes.
        for (key, value) in header.metadata.sorted(by: { $0.key < $1.key }) {
            writer.tag(5, wireType: 2)
            writer.varint(UInt64(bytesFieldSize(1, key.utf8.count) + bytesFieldSize(2, value.utf8.count)))
            writer.stringField(1, key)
            writer.stringField(2, value)
        }
        writer.bytesField(6, payload)
        precondition(writer.offset == out.count, "request frame size mismatch")
    }

    /// The encoded size of a server frame.
    public static func responseSize(_ header: ResponseHeader, payloadCount: Int) -> Int {
        varintFieldSize(1, header.callId) + varintFieldSize(2, header.endOfCall ? 1 : 0)
            + varintFieldSize(3, UInt64(bitPattern: Int64(header.status.rawValue)))
            + bytesFieldSize(4, header.message.utf8.count) + bytesFieldSize(5, payloadCount)
            + bytesFieldSize(6, header.reason.utf8.count)
    }

    /// Writes a server frame of `responseSize` bytes at `out`.
    public static func encodeResponse(
        _ header: ResponseHeader, payload: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer
    ) {
        var writer = FieldWriter(out)
        writer.varintField(1, header.callId)
        writer.varintField(2, header.endOfCall ? 1 : 0)
        writer.varintField(3, UInt64(bitPattern: Int64(header.status.rawValue)))
        writer.stringField(4, header.message)
        writer.bytesField(5, payload)
        writer.stringField(6, header.reason)
        precondition(writer.offset == out.count, "response frame size mismatch")
    }

    private static func metadataEntry(
        _ bytes: UnsafeRawBufferPointer, _ frameSize: Int
    ) throws(BadgeError) -> (String, String) {
        var key = ""
        var value = ""
        var reader = FieldReader(bytes)
        while !reader.atEnd {
            switch try reader.field(in: "badges.v1.MetadataEntry", frameSize) {
            case (1, .bytes(let bytes)): key = String(decoding: bytes, as: UTF8.self)
            case (2, .bytes(let bytes)): value = String(decoding: bytes, as: UTF8.self)
            case (1...2, _): throw malformed("badges.v1.MetadataEntry", frameSize)
            default: break
            }
        }
        return (key, value)
    }

    static func malformed(_ what: String, _ count: Int) -> BadgeError {
        BadgeError.invalidArgument(
            "payload is not a valid \(what) message (\(count) bytes)", reason: "malformed_message")
    }
}

private func varintFieldSize(_ field: UInt64, _ value: UInt64) -> Int {
    value == 0 ? 0 : varintSize(field << 3) + varintSize(value)
}

private func bytesFieldSize(_ field: UInt64, _ count: Int, always: Bool = false) -> Int {
    count == 0 && !always ? 0 : varintSize(field << 3 | 2) + varintSize(UInt64(count)) + count
}

extension Method {
    /// A method name read from a frame: the constant string when it names a known method (no allocation).
    static func name(_ bytes: UnsafeRawBufferPointer) -> String {
        for (method, name) in utf8Names where name.count == bytes.count {
            if name.withUnsafeBytes({ $0.elementsEqual(bytes) }) { return method.rawValue }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
