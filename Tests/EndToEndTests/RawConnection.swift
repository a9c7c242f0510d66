import BadgeCodec
import BadgeModel
import BadgeWire
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking socket that writes exactly the bytes a test gives it, for feeding the server input
/// no well-behaved client would send. Reads time out after two seconds.
final class RawConnection {
    let fd: Int32

    init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in unixPath.utf8.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        setTimeout()
    }

    init(tcpPort: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(tcpPort).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
        setTimeout()
    }

    convenience init(_ server: TestServer, _ transport: Transport) throws {
        switch transport {
        case .unix: try self.init(unixPath: server.socketPath)
        case .tcp: try self.init(tcpPort: server.server.tcpPort!)
        }
    }

    deinit { close(fd) }

    private func setTimeout() { setReadTimeout(seconds: 2) }

    /// For reads that wait on a server timer rather than on a reply.
    func setReadTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) { Self.send(bytes, to: fd) }

    /// Writes all of `bytes` to `fd` (stops early if the socket fails). Static so that a thread of
    /// its own can keep sending while the test reads (a send blocks once the server stops reading).
    static func send(_ bytes: [UInt8], to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if written <= 0 { return }
            offset += written
        }
    }

    /// Half-closes: the server sees EOF.
    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Reads exactly `count` bytes; nil on EOF or timeout.
    func read(_ count: Int) -> [UInt8]? {
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = result[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { return nil }
            offset += got
        }
        return result
    }

    /// True when the server has closed the connection (EOF within the timeout).
    func readsEOF() -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    func sendPreface(version: UInt16 = WireProtocol.version) { send(WireProtocol.preface(version: version)) }

    func readPreface() -> [UInt8]? { read(WireProtocol.prefaceLength) }

    /// Reads one frame and decodes its header and payload.
    func readFrame() -> (ResponseHeader, [UInt8])? {
        guard let lengthBytes = read(4) else { return nil }
        let length =
            Int(lengthBytes[0]) << 24 | Int(lengthBytes[1]) << 16 | Int(lengthBytes[2]) << 8 | Int(lengthBytes[3])
        guard let body = read(length) else { return nil }
        return try? body.withUnsafeBytes { bytes throws(BadgeError) in
            try Envelope.decodeResponse(bytes) { header, payload in (header, Array(payload)) }
        }
    }

    /// Sends one call frame with an arbitrary payload.
    func sendCall(callId: UInt64, method: String, payload: [UInt8], timeoutMicros: UInt64 = 0) {
        send(Self.frame(RequestHeader(callId: callId, method: method, timeoutMicros: timeoutMicros), payload: payload))
    }

    /// Sends a Health call and reads one reply: true when it is OK (the connection still serves).
    func answersHealth(callId: UInt64) -> Bool {
        sendCall(callId: callId, method: Method.health.rawValue, payload: [])
        return readFrame()?.0.status == .ok
    }

    static func frame(_ header: RequestHeader, payload: [UInt8]) -> [UInt8] {
        payload.withUnsafeBytes { payload in
            let size = Envelope.requestSize(header, payloadCount: payload.count)
            var bytes = [
                UInt8(size >> 24 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF),
            ]
            bytes += [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                Envelope.encodeRequest(
                    header, payload: payload,
                    into: UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[0..<size])))
                count = size
            }
            return bytes
        }
    }
}
