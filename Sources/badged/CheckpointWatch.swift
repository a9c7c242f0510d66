import LMDB
import Logging
import ServiceLifecycle

/// Logs when the store's background checkpoints start or stop failing. Writes go on meanwhile,
/// but the journal (and the time a crash recovery takes) grows until a checkpoint succeeds.
struct CheckpointWatch: Service {
    let environment: Environment
    let logger: Logger
    var interval: Duration = .seconds(10)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var reported: String?
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                let failure = environment.checkpointFailure.map { "\($0)" }
                guard failure != reported else { continue }
                if let failure {
                    logger.warning(
                        "journal checkpoint failed; it is retried as the journal grows",
                        metadata: ["error": "\(failure)", "data": "\(environment.path)"])
                } else {
                    logger.notice("journal checkpoints succeed again", metadata: ["data": "\(environment.path)"])
                }
                reported = failure
            }
        }
    }
}
