import BadgeClient
import BadgeCodec
import BadgeWire
import CEventPoll

#if canImport(Glibc)
    import Glibc
#endif

/// A connected, non-blocking socket that has completed the wire preface, for the direct engine.
enum DirectSocket {
    /// Connects to `target`, exchanges prefaces (blocking, with a 5 s timeout), then switches the
    /// socket to non-blocking mode. Returns the file descriptor.
    static func connect(to target: BadgeClient.Target) throws(LoadError) -> Int32 {
        let fd: Int32
        switch target {
        case .unix(let path): fd = try connectUnix(path)
        case .tcp(let host, let port): fd = try connectTCP(host: host, port: port)
        }
        do throws(LoadError) {
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            do throws(LoadError) {
                try writeAll(fd, WireProtocol.preface())
            } catch {
                // A server that refuses at once may close before our preface is written: its
                // refusal can still be waiting to be read, and says more than "broken pipe".
                if let answer = try? readAtLeast(fd, WireProtocol.prefaceLength), let refusal = refusal(after: answer) {
                    throw LoadError("\(target): \(refusal)")
                }
                throw error
            }
            let preface = try readAtLeast(fd, WireProtocol.prefaceLength)
            guard Array(preface.prefix(WireProtocol.magic.count)) == WireProtocol.magic else {
                throw LoadError("\(target): the server did not answer with the BADGES preface")
            }
            // A server that refuses the connection (limit, version) sends the refusal right after
            // its preface, on call 0, and closes: report it as the client library does.
            if let refusal = refusal(after: preface) { throw LoadError("\(target): \(refusal)") }
            guard fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0 else { throw errnoError("fcntl") }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    private static func connectUnix(_ path: String) throws(LoadError) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw LoadError("socket path \(path) is too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in path.utf8.enumerated() { buffer[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw errnoError("socket") }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let error = errnoError("connect to \(path)")
            close(fd)
            throw error
        }
        return fd
    }

    private static func connectTCP(host: String, port: Int) throws(LoadError) -> Int32 {
        let target = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw LoadError("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = LoadError("no address for \(target)")
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            if fd < 0 { continue }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                // Small frames must leave at once: Nagle would hold each call for the previous reply.
                var on: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                return fd
            }
            lastError = errnoError("connect to \(target)")
            close(fd)
        }
        throw lastError
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(LoadError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw errnoError("send") }
            offset += written
        }
    }

    /// Reads at least `count` bytes, and whatever else arrived with them (up to 4 KiB).
    private static func readAtLeast(_ fd: Int32, _ count: Int) throws(LoadError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var offset = 0
        while offset < count {
            let got = bytes[offset...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw got == 0 ? LoadError("the server closed the connection during the preface") : errnoError("recv")
            }
            offset += got
        }
        return Array(bytes[0..<offset])
    }

    /// The status and message of a call-0 frame right after the preface, if one came with it.
    private static func refusal(after preface: [UInt8]) -> String? {
        let rest = preface.dropFirst(WireProtocol.prefaceLength)
        guard rest.count >= 4 else { return nil }
        let length = rest.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard rest.count >= 4 + length else { return nil }
        let header = Array(rest.dropFirst(4).prefix(length)).withUnsafeBytes { bytes in
            try? Envelope.decodeResponse(bytes) { header, _ in header }
        }
        guard let header, header.callId == 0 else { return nil }
        return "\(header.status.description): \(header.message)"
    }

    static func errnoError(_ what: String) -> LoadError {
        LoadError("\(what): \(String(cString: strerror(errno)))")
    }
}

/// An epoll instance plus a timerfd for the open loop's planned sends (epoll_wait's own timeout is
/// in milliseconds, far coarser than the gaps between sends).
final class DirectPoller {
    let epoll: Int32
    let timer: Int32
    /// The epoll data tag of the timer; connections use their index.
    static let timerTag = UInt64.max
    private var armedAt: UInt64 = 0

    init() throws(LoadError) {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw DirectSocket.errnoError("epoll_create1") }
        timer = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        guard timer >= 0 else {
            close(epoll)
            throw DirectSocket.errnoError("timerfd_create")
        }
        watch(timer, tag: Self.timerTag, writable: false, add: true)
    }

    deinit {
        close(timer)
        close(epoll)
    }

    /// Registers (`add`) or updates the events `fd` is watched for.
    func watch(_ fd: Int32, tag: UInt64, writable: Bool, add: Bool) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (writable ? EPOLLOUT.rawValue : 0)
        event.data.u64 = tag
        epoll_ctl(epoll, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event)
    }

    /// Stops watching `fd` (a connection that failed).
    func unwatch(_ fd: Int32) {
        epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil)
    }

    /// Wakes the loop at `deadline` (CLOCK_MONOTONIC ns, the clock of `nowNanos()`); 0 disarms.
    func arm(at deadline: UInt64) {
        guard deadline != armedAt else { return }
        armedAt = deadline
        var spec = itimerspec()
        spec.it_value.tv_sec = Int(deadline / 1_000_000_000)
        spec.it_value.tv_nsec = Int(deadline % 1_000_000_000)
        timerfd_settime(timer, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    /// Consumes the timer's expiry count so it stops being readable.
    func drainTimer() {
        var expirations: UInt64 = 0
        _ = read(timer, &expirations, 8)
        armedAt = 0
    }
}
