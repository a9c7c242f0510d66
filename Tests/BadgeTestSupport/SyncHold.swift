import Foundation
@_spi(Testing) import LMDB
import Synchronization

/// Holds an environment's deferred journal syncs (`Environment.write(syncingLater:_:)`) until
/// `release`: commits stay visible but not durable, as while a slow fdatasync is in flight.
public final class SyncHold: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    /// Syncs that reached the hold.
    public let entered = Atomic<Int>(0)

    public init() {}

    public func install(on env: Environment) {
        env.setBeforeDeferredSync { [self] in
            entered.wrappingAdd(1, ordering: .relaxed)
            semaphore.wait()
            return 0
        }
    }

    /// Lets the held sync go on; later syncs are not held.
    public func release(on env: Environment) {
        env.setBeforeDeferredSync(nil)
        semaphore.signal()
    }

    /// Makes every later deferred sync fail with `code` (say EIO), as a failing disk would.
    public static func failSyncs(of env: Environment, with code: Int32) {
        env.setBeforeDeferredSync { code }
    }
}

/// A flag one thread sets and another waits for.
public final class Finished: Sendable {
    private let flag = Mutex(false)
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    public func set() {
        flag.withLock { $0 = true }
        semaphore.signal()
    }

    public var isSet: Bool { flag.withLock { $0 } }

    /// True once set; false if `seconds` pass first.
    public func wait(seconds: Double) -> Bool {
        if isSet { return true }
        return semaphore.wait(timeout: .now() + seconds) == .success || isSet
    }
}
