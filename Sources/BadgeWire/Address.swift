import BadgeModel

/// A TCP address written as `HOST:PORT` (`[::1]:7411` for IPv6; an empty host means 127.0.0.1),
/// parsed the same way by the server's flags and every client's.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// - Parameter allowPortZero: listeners may ask for any free port (0); clients may not.
    public init(parsing text: String, allowPortZero: Bool = false) throws(BadgeError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            ((allowPortZero ? 0 : 1)...65535).contains(port)
        else {
            throw BadgeError.invalidArgument("address \"\(text)\" is not HOST:PORT", reason: "invalid_address")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
