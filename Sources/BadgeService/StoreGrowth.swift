import Foundation
import LMDB
import Logging
import Synchronization

/// The writer's `makeRoom`: grows the store's LMDB map before it fills (`Environment.growMapIfNeeded`)
/// and says so in the log, so that a store outgrowing `--map-size-mb` goes on taking writes.
final class StoreGrowth: Sendable {
    private let environment: Environment
    private let logger: Logger
    /// Set once "cannot grow" is logged, cleared when the map grows: one warning per episode.
    private let warnedNoRoom = Atomic<Bool>(false)
    /// How long a write that found the map full waits for a moment when no reader uses the map.
    static let fullWait: Duration = .seconds(1)

    init(environment: Environment, logger: Logger) {
        self.environment = environment
        self.logger = logger
    }

    /// "2 MiB", or "256 KiB" below a MiB.
    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 20 || bytes == 0 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB"
    }

    /// True when the map grew. Nearly full, it tries once (the next batch tries again); full, it
    /// retries until `fullWait` has passed while readers or a checkpoint's copy keep the map busy.
    func makeRoom(whenFull: Bool) -> Bool {
        let deadline = ContinuousClock.now + Self.fullWait
        while true {
            let outcome: MapGrowth
            do {
                outcome = try environment.growMapIfNeeded(whenFull: whenFull)
            } catch {
                logger.error("growing the store's map failed: \(error)")
                return false
            }
            switch outcome {
            case .notNeeded:
                return false
            case .grown(let from, let to):
                warnedNoRoom.store(false, ordering: .relaxed)
                logger.notice(
                    "the store's map grew from \(Self.size(from)) to \(Self.size(to))",
                    metadata: ["used": "\(Self.size(environment.usedBytes()))"])
                return true
            case .noRoom(let mapSize, let maxMapSize, let free):
                if !warnedNoRoom.exchange(true, ordering: .relaxed) {
                    let limit =
                        maxMapSize == Int.max ? "" : "its limit (--map-size-max-mb) is \(Self.size(maxMapSize)); "
                    logger.warning(
                        """
                        the store's map (\(Self.size(mapSize))) is \(whenFull ? "full" : "nearly full") and cannot \
                        grow: \(limit)the disk has \(Self.size(free)) free. Writes fail with storage_full once it is full.
                        """)
                }
                return false
            case .busy:
                guard whenFull, ContinuousClock.now < deadline else { return false }
                Thread.sleep(forTimeInterval: 0.000_2)
            }
        }
    }
}
