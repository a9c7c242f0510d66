import BadgeModel
import BadgeWire
import Testing

@Suite("HostPort")
struct HostPortTests {
    @Test("parses host and port, IPv6 in brackets, and an empty host as loopback")
    func parses() throws {
        #expect(try HostPort(parsing: "127.0.0.1:7411") == HostPort(parsing: ":7411"))
        let v6 = try HostPort(parsing: "[::1]:9")
        #expect(v6.host == "::1" && v6.port == 9)
        #expect(v6.description == "[::1]:9")
        #expect(try HostPort(parsing: "localhost:0", allowPortZero: true).port == 0)
    }

    @Test("refuses what is not HOST:PORT", arguments: ["7411", "host:", "host:port", "host:70000", "host:0"])
    func refuses(text: String) {
        #expect(throws: BadgeError.self) { try HostPort(parsing: text) }
    }
}
