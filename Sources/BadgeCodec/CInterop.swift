import BadgeModel
internal import BadgeWireC

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The generated functions of one protobuf-c message struct, so packing and unpacking are written
/// once, generically. Swift cannot use the `*__INIT` macros; `initialize` calls `xxx__init`.
protocol CInitializable {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { get }
}

protocol CMessage: CInitializable {
    static var packedSize: (UnsafePointer<Self>?) -> Int { get }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { get }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    { get }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void { get }
}

/// A generated map entry (`key`/`value` strings); every map in the contract is string to string.
protocol CMapEntry: CInitializable {
    var key: UnsafeMutablePointer<CChar>! { get set }
    var value: UnsafeMutablePointer<CChar>! { get set }
}

/// Shared empty C string: proto3 treats "" as unset, so empty fields need no allocation.
nonisolated(unsafe) private let emptyCString: UnsafeMutablePointer<CChar> = {
    let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
    pointer.initialize(to: 0)
    return pointer
}()

/// Owns every C allocation made while building one message tree for packing; frees them all at once.
final class EncodeArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    func string(_ value: String) -> UnsafeMutablePointer<CChar> {
        if value.isEmpty { return emptyCString }
        var value = value
        return value.withUTF8 { utf8 in
            let raw = malloc(utf8.count + 1)!
            allocations.append(raw)
            if let base = utf8.baseAddress { raw.copyMemory(from: base, byteCount: utf8.count) }
            raw.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return raw.assumingMemoryBound(to: CChar.self)
        }
    }

    func message<M: CInitializable>(_ type: M.Type) -> UnsafeMutablePointer<M> {
        let raw = malloc(MemoryLayout<M>.stride)!
        allocations.append(raw)
        let pointer = raw.bindMemory(to: M.self, capacity: 1)
        M.initialize(pointer)
        return pointer
    }

    /// A C array of message pointers (`Foo **`) filled from `items`.
    func messageArray<M: CInitializable, Item>(
        _ type: M.Type, _ items: some Collection<Item>, fill: (Item, UnsafeMutablePointer<M>) -> Void
    ) -> (count: Int, pointer: UnsafeMutablePointer<UnsafeMutablePointer<M>?>?) {
        if items.isEmpty { return (0, nil) }
        let raw = malloc(MemoryLayout<UnsafeMutablePointer<M>?>.stride * items.count)!
        allocations.append(raw)
        let array = raw.bindMemory(to: UnsafeMutablePointer<M>?.self, capacity: items.count)
        for (index, item) in items.enumerated() {
            let element = message(M.self)
            fill(item, element)
            array[index] = element
        }
        return (items.count, array)
    }

    /// A map field, entries sorted by key so that equal maps pack to equal bytes.
    func map<E: CMapEntry>(
        _ type: E.Type, _ dictionary: [String: String]
    ) -> (
        count: Int, pointer: UnsafeMutablePointer<UnsafeMutablePointer<E>?>?
    ) {
        messageArray(E.self, dictionary.sorted { $0.key < $1.key }) { pair, entry in
            entry.pointee.key = string(pair.key)
            entry.pointee.value = string(pair.value)
        }
    }

    /// A repeated string field (`char **`).
    func strings(_ values: [String]) -> (count: Int, pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) {
        if values.isEmpty { return (0, nil) }
        let array = scalars(values.map { Optional(string($0)) })
        return (values.count, array.pointer)
    }

    /// A repeated scalar field (`int64_t *`, `double *`, ...).
    func scalars<T>(_ values: [T]) -> (count: Int, pointer: UnsafeMutablePointer<T>?) {
        if values.isEmpty { return (0, nil) }
        let raw = malloc(MemoryLayout<T>.stride * values.count)!
        allocations.append(raw)
        let array = raw.bindMemory(to: T.self, capacity: values.count)
        array.initialize(from: values, count: values.count)
        return (values.count, array)
    }

    func bytes(_ buffer: UnsafeRawBufferPointer) -> ProtobufCBinaryData {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return ProtobufCBinaryData(len: 0, data: nil) }
        return ProtobufCBinaryData(
            len: buffer.count, data: UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self)))
    }
}

extension CMessage {
    /// Packs a built message into a new array.
    static func packToArray(_ message: UnsafeMutablePointer<Self>) -> [UInt8] {
        let size = packedSize(message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            initialized = pack(message, buffer.baseAddress)
        }
    }

    /// Unpacks `bytes`, hands the C struct to `body`, and frees it; nothing of it may escape `body`.
    ///
    /// protobuf-c allocates the struct, each string and each map entry separately; they are carved
    /// from a 1 KiB buffer on the stack instead (`UnpackArena`), so a request's decoding costs no malloc
    /// unless it is larger than the buffer.
    static func withUnpacked<R>(
        _ bytes: UnsafeRawBufferPointer, what: String, _ body: (UnsafePointer<Self>) throws(BadgeError) -> R
    ) throws(BadgeError) -> R {
        let outcome: Result<R, BadgeError> = withUnsafeTemporaryAllocation(
            byteCount: UnpackArena.bytes, alignment: UnpackArena.alignment
        ) { buffer in
            var arena = UnpackArena(buffer)
            return withUnsafeMutablePointer(to: &arena) { arena in
                var allocator = ProtobufCAllocator(
                    alloc: UnpackArena.alloc, free: UnpackArena.free, allocator_data: UnsafeMutableRawPointer(arena))
                // protobuf-c reads nothing when the length is 0, so a nil base address is fine.
                guard
                    let message = unpack(
                        &allocator, bytes.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self))
                else {
                    return .failure(
                        BadgeError.invalidArgument(
                            "payload is not a valid \(what) message (\(bytes.count) bytes)",
                            reason: "malformed_message"))
                }
                defer { freeUnpacked(message, &allocator) }
                return Result { () throws(BadgeError) in try body(message) }
            }
        }
        return try outcome.get()
    }
}

/// A bump allocator over one stack buffer for protobuf-c's unpacking: every allocation of one
/// message tree is taken from the buffer and freed with it. What does not fit goes to malloc,
/// and only that is freed one by one.
struct UnpackArena {
    /// Room for a typical request (struct, ids, a short evidence, a few map entries); larger ones
    /// spill. Swift keeps a temporary allocation of up to 1 KiB on the stack; a 4 KiB one came from
    /// the heap here (one malloc per request in the allocation profile), which undid the point.
    static let bytes = 1024
    static let alignment = 16

    let base: UnsafeMutableRawPointer
    let size: Int
    var used = 0

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        base = buffer.baseAddress!
        size = buffer.count
    }

    static let alloc: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? = { data, size in
        let arena = data!.assumingMemoryBound(to: UnpackArena.self)
        let start = (arena.pointee.used + alignment - 1) & ~(alignment - 1)
        guard size <= arena.pointee.size - start else { return malloc(size) }
        arena.pointee.used = start + size
        return arena.pointee.base + start
    }

    static let free: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { data, pointer in
        guard let pointer else { return }
        let arena = data!.assumingMemoryBound(to: UnpackArena.self)
        let base = arena.pointee.base
        // Within the buffer: released with it.
        if pointer >= base && pointer < base + arena.pointee.size { return }
        freeSpilled(pointer)
    }
}

/// `free`, which `UnpackArena`'s own `free` hides inside it.
private func freeSpilled(_ pointer: UnsafeMutableRawPointer) {
    free(pointer)
}

/// Reads a C string field (NULL-safe) into a Swift string.
@inline(__always)
func swiftString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    guard let pointer, pointer.pointee != 0 else { return "" }
    return String(cString: pointer)
}

/// Reads a generated map field into a dictionary (a repeated key keeps the last value, as protobuf does).
///
/// Keys are the protocol's bytes, but a `String` dictionary compares them as Unicode text, where a
/// precomposed "\u{E9}" and "e" + U+0301 are one key: the second would replace the first's value
/// and keep its bytes. Two such keys are refused (`ambiguous_key`, naming `field`) rather than
/// merged, and so is a key that is not valid UTF-8 (`invalid_text`).
func swiftMap<E: CMapEntry>(
    _ count: Int, _ entries: UnsafeMutablePointer<UnsafeMutablePointer<E>?>?, field: String
) throws(BadgeError) -> [String: String] {
    guard count > 0, let entries else { return [:] }
    var result: [String: String] = [:]
    result.reserveCapacity(count)
    for index in 0..<count {
        guard let entry = entries[index] else { continue }
        // Validated, not repaired: invalid UTF-8 would read as U+FFFD, merging keys "\xFF" and
        // "\xFE" into one.
        var key = ""
        if let raw = entry.pointee.key {
            guard let valid = String(validatingCString: raw) else {
                throw BadgeError(
                    .invalidArgument, "\(field) has a key that is not valid UTF-8", reason: "invalid_text")
            }
            key = valid
        }
        if let existing = result.index(forKey: key), !result[existing].key.isSameId(key) {
            throw BadgeError(
                .invalidArgument,
                "\(field) has two keys that are the same text in different Unicode bytes (\"\(key)\"): keys are compared byte for byte, send one of them",
                reason: "ambiguous_key")
        }
        result[key] = swiftString(entry.pointee.value)
    }
    return result
}

/// Reads a repeated message field.
func swiftArray<M, T>(
    _ count: Int, _ items: UnsafeMutablePointer<UnsafeMutablePointer<M>?>?,
    _ convert: (UnsafePointer<M>) throws(BadgeError) -> T
) throws(BadgeError) -> [T] {
    guard count > 0, let items else { return [] }
    var result: [T] = []
    result.reserveCapacity(count)
    for index in 0..<count {
        guard let item = items[index] else { continue }
        result.append(try convert(item))
    }
    return result
}

/// Reads a repeated string field.
func swiftStrings(_ count: Int, _ values: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard count > 0, let values else { return [] }
    return (0..<count).map { swiftString(values[$0]) }
}

/// Reads a repeated scalar field.
func swiftScalars<T>(_ count: Int, _ values: UnsafeMutablePointer<T>?) -> [T] {
    guard count > 0, let values else { return [] }
    return Array(UnsafeBufferPointer(start: values, count: count))
}
