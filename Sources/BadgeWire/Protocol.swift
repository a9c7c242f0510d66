import BadgeCodec
import BadgeModel
import NIOCore

/// Constants of the wire protocol (see PROTOCOL.md).
public enum WireProtocol {
    /// The version this build speaks, sent in the connection preface.
    public static let version: UInt16 = 1
    /// The first six bytes of every connection, in both directions.
    public static let magic: [UInt8] = Array("BADGES".utf8)
    /// Magic plus a big-endian u16 version.
    public static let prefaceLength = 8
    /// Default maximum size of one frame's envelope (the bytes after the length prefix).
    public static let defaultMaxFrameSize = 4 << 20
    /// Default maximum size of one reply frame's envelope the server sends: what the reference
    /// client accepts by default (`BadgeClient.connect(maxFrameSize:)`).
    public static let defaultMaxReplyFrameSize = 64 << 20
    /// The largest envelope a frame's u32 length prefix can describe.
    public static let largestFrameSize = Int(UInt32.max)

    /// The preface for `version`.
    public static func preface(version: UInt16 = version) -> [UInt8] {
        magic + [UInt8(version >> 8), UInt8(version & 0xFF)]
    }
}

/// Errors that end a connection: the peer is not speaking this protocol, or broke a limit that
/// leaves the byte stream unreadable.
public enum WireError: Error, Sendable, Hashable {
    case badPreface([UInt8])
    case unsupportedVersion(UInt16)
    case frameTooLarge(size: Int, limit: Int)
    case malformedEnvelope(String)
    case truncatedFrame(have: Int)

    /// The status sent to the peer (on call id 0) before closing.
    public var badgeError: BadgeError {
        switch self {
        case .badPreface(let bytes):
            BadgeError(
                .invalidArgument,
                "expected the connection preface \"BADGES\" + u16 version, got \(bytes.map { String($0, radix: 16) })",
                reason: "bad_preface")
        case .unsupportedVersion(let version):
            BadgeError(
                .failedPrecondition,
                "protocol version \(version) is not supported; this server speaks version \(WireProtocol.version)",
                reason: "unsupported_version")
        case .frameTooLarge(let size, let limit):
            BadgeError(
                .resourceExhausted, "frame of \(size) bytes exceeds the limit of \(limit) bytes",
                reason: "frame_too_large")
        case .malformedEnvelope(let detail):
            BadgeError(.invalidArgument, "frame is not a valid envelope: \(detail)", reason: "malformed_envelope")
        case .truncatedFrame(let have):
            BadgeError(
                .invalidArgument, "connection ended inside a frame (\(have) bytes pending)", reason: "truncated_frame")
        }
    }
}
