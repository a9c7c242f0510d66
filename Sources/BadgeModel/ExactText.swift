/// Text compared, ordered and hashed by its UTF-8 bytes.
///
/// Swift's `String` is equal to another when both are the same Unicode text: a precomposed
/// "\u{E9}" and "e" + U+0301 are one `String` key. The protocol compares event types, attribute
/// values and ids byte for byte, so where such text is a dictionary key or a set member it is this.
public struct ExactText: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral text: String) { self.text = text }

    public static func == (left: ExactText, right: ExactText) -> Bool { left.text.isSameId(right.text) }

    public static func < (left: ExactText, right: ExactText) -> Bool {
        left.text.utf8.lexicographicallyPrecedes(right.text.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public var description: String { text }
}
