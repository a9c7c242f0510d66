import BadgeModel

/// A Swift value that is one protobuf message of the contract (`proto/badges/v1`), encoded and
/// decoded by protobuf-c.
public protocol WireMessage: Sendable {
    /// The protobuf message name, for error messages ("badges.v1.IssueRequest").
    static var protoName: String { get }
    /// The protobuf encoding.
    func encoded() -> [UInt8]
    /// Decodes the protobuf encoding; malformed bytes throw `INVALID_ARGUMENT`.
    init(decoding bytes: UnsafeRawBufferPointer) throws(BadgeError)
}

extension WireMessage {
    public init(decoding bytes: [UInt8]) throws(BadgeError) {
        self = try withBytes(of: bytes) { buffer throws(BadgeError) in try Self(decoding: buffer) }
    }
}

/// `bytes.withUnsafeBytes(body)` keeping `body`'s typed error (the standard one rethrows `any Error`).
func withBytes<T>(
    of bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(BadgeError) -> T
) throws(BadgeError) -> T {
    do {
        return try bytes.withUnsafeBytes { buffer in try body(buffer) }
    } catch let error as BadgeError {
        throw error
    } catch {
        throw BadgeError(.internal, "\(error)")
    }
}

/// Conversion between a Swift value and its generated C struct; `WireMessage` follows from it.
protocol CBacked: WireMessage {
    associatedtype CType: CMessage
    init(c: UnsafePointer<CType>) throws(BadgeError)
    func fill(_ c: UnsafeMutablePointer<CType>, _ arena: EncodeArena)
}

extension CBacked {
    public func encoded() -> [UInt8] { protobufCEncoded() }

    public init(decoding bytes: UnsafeRawBufferPointer) throws(BadgeError) {
        try self.init(protobufC: bytes)
    }

    /// The encoding by protobuf-c (also the reference for the messages encoded by hand).
    func protobufCEncoded() -> [UInt8] {
        let arena = EncodeArena()
        let message = arena.message(CType.self)
        fill(message, arena)
        return withExtendedLifetime(arena) { CType.packToArray(message) }
    }

    /// Decodes with protobuf-c (also the reference for the messages decoded by hand).
    init(protobufC bytes: UnsafeRawBufferPointer) throws(BadgeError) {
        self = try CType.withUnpacked(bytes, what: Self.protoName) { c throws(BadgeError) in try Self(c: c) }
    }

    /// Builds a nested message field (`Foo *`).
    func nested<Child: CBacked>(_ child: Child, _ arena: EncodeArena) -> UnsafeMutablePointer<Child.CType> {
        let message = arena.message(Child.CType.self)
        child.fill(message, arena)
        return message
    }
}

/// Reads an optional nested message; a missing one is reported by field name.
func required<Child: CBacked>(
    _ pointer: UnsafeMutablePointer<Child.CType>?, _ type: Child.Type, field: String
) throws(BadgeError) -> Child {
    guard let pointer else { throw BadgeError.invalidArgument("\(field) is missing", reason: "missing_field") }
    return try Child(c: pointer)
}

/// Builds a repeated message field (`Foo **`).
func repeated<Child: CBacked>(
    _ items: [Child], _ arena: EncodeArena
) -> (
    count: Int, pointer: UnsafeMutablePointer<UnsafeMutablePointer<Child.CType>?>?
) {
    arena.messageArray(Child.CType.self, items) { item, message in item.fill(message, arena) }
}
