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
                    "the store's map grew from \(from >> 20) MiB to \(to >> 20) MiB",
                    metadata: ["used_mib": "\(environment.usedBytes() >> 20)"])
                return true
            case .noRoom(let mapSize, let maxMapSize, let free):
                if !warnedNoRoom.exchange(true, ordering: .relaxed) {
                    let limit = maxMapSize == Int.max ? "" : "--map-size-max-mb is \(maxMapSize >> 20); "
                    logger.warning(
                        """
                        the store's map (\(mapSize >> 20) MiB) is \(whenFull ? "full" : "nearly full") and cannot \
                        grow: \(limit)the disk has \(free >> 20) MiB free. Writes fail with storage_full once it is full.
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
