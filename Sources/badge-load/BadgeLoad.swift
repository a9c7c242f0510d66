import ArgumentParser
import BadgeClient
import BadgeModel
import Foundation
import NIOCore
import NIOPosix

/// `badge-load`: the load generator for badged. `run` drives a workload closed loop (to find the
/// maximum) or open loop (to measure latency at a rate); `seed` writes a reproducible data set.
@main
struct BadgeLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "badge-load",
        abstract: "Load generator for badged: seed a data set, then measure throughput and latency.",
        discussion: """
            Examples:
              badge-load seed --socket badged.sock --seed-customers 10000 --seed-awards 10
              badge-load run --socket badged.sock --workload list --connections 4 --depth 32 --duration 5
              badge-load run --socket badged.sock --workload list --rate 20000 --duration 10 --json
              badge-load run --address 127.0.0.1:7411 --workload mix --mix list=90,evaluate=8,issue=2
            Exit codes: 0 done, 1 every measured call failed, 64 usage, 69 the server could not be reached.
            """,
        subcommands: [RunCommand.self, SeedCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// Runs one workload and reports.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Drive a workload and report throughput, latency and errors.")

    @OptionGroup var target: TargetOptions
    @OptionGroup var data: DataSetOptions
    @OptionGroup var load: LoadOptions

    @Flag(help: "Seed the data set (see `seed`) before the run.")
    var seedFirst = false

    @Flag(help: "Print the result as JSON on stdout.")
    var json = false

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    func run() async throws {
        let result: LoadResult
        do {
            if seedFirst {
                let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
                let clients = try await connectAll(target: target, count: min(4, load.connections), group: group)
                do {
                    let summary = try await Seeder.seed(clients: clients, data: data)
                    if !quiet { printError(summary.text) }
                } catch {
                    await closeAll(clients, group)
                    throw error
                }
                await closeAll(clients, group)
            }
            result = try await load.engine == .direct ? runDirect() : runWithNIO()
        } catch {
            printError("badge-load: \(error)")
            throw ExitCode(69)
        }
        print(json ? result.json() : result.table())
        if result.requests > 0 && result.ok == 0 && load.workload != .evaluate { throw ExitCode(1) }
    }

    /// The run's time line: starts a little ahead so every connection is set up before the first send.
    private func makeWindow() -> (start: UInt64, window: Window) {
        let start = nowNanos() + 20_000_000
        let measureFrom = start + UInt64(load.warmup * 1e9)
        let stopAt = measureFrom + UInt64(load.effectiveDuration * 1e9)
        let grace = UInt64(max(5, Double(load.timeoutMs) / 1_000 + 1) * 1e9)
        return (start, Window(startAt: start, measureFrom: measureFrom, stopAt: stopAt, giveUpAt: stopAt + grace))
    }

    private func makePlan() throws -> WorkloadPlan {
        let runId = load.runId ?? "ld\(UInt64(Date().timeIntervalSince1970 * 1_000_000))"
        return WorkloadPlan(
            mix: try load.weights, customers: data.customers, badges: data.badges,
            issueCustomers: load.issueCustomers, seed: data.seed, runId: runId)
    }

    private func makeResult(_ plan: WorkloadPlan, _ recorder: Recorder, _ window: Window) -> LoadResult {
        let config = LoadResult.Config(
            workload: load.workload.rawValue, mix: plan.mix.description, mode: load.rate == nil ? "closed" : "open",
            engine: load.engine.rawValue, target: (try? target.target.description) ?? "",
            connections: load.connections, depth: load.rate == nil ? load.depth : nil, rate: load.rate,
            threads: target.threads, durationSeconds: load.effectiveDuration, warmupSeconds: load.warmup,
            requests: load.requests, timeoutMs: load.timeoutMs, seed: data.seed, customers: data.customers,
            badges: data.badges)
        return LoadResult(config: config, recorder: recorder, measureFrom: window.measureFrom)
    }

    /// Plain sockets on threads of their own (see `DirectWorker`).
    private func runDirect() async throws -> LoadResult {
        let plan = try makePlan()
        let mode: DirectPacing.Mode =
            load.rate.map {
                .open(intervalNanos: Double(load.connections) * 1e9 / $0, maxOutstanding: load.maxOutstanding)
            }
            ?? .closed(depth: load.depth)
        let (recorder, window) = try await DirectEngine.run(
            DirectEngine.Setup(
                target: try target.target, connections: load.connections, threads: target.threads, plan: plan,
                mode: mode, timeoutMicros: UInt64(load.timeoutMs) * 1_000, metadata: target.metadata,
                requests: load.requests, quiet: quiet),
            makeWindow: makeWindow)
        return makeResult(plan, recorder, window)
    }

    /// Through `BadgeClient` on NIO event loops: slower per call, but exercises the client library.
    private func runWithNIO() async throws -> LoadResult {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: target.threads)
        let clients: [BadgeClient]
        do {
            clients = try await connectAll(target: target, count: load.connections, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        do {
            let result = try await runLoad(clients: clients)
            await closeAll(clients, group)
            return result
        } catch {
            await closeAll(clients, group)
            throw error
        }
    }

    private func runLoad(clients: [BadgeClient]) async throws -> LoadResult {
        let plan = try makePlan()
        var loops: [any EventLoop] = []
        for client in clients { loops.append(try await client.eventLoop()) }
        let (start, window) = makeWindow()
        let timeout: Duration? = load.timeoutMs > 0 ? .milliseconds(load.timeoutMs) : nil

        var drivers: [any LoadDriver] = []
        let count = clients.count
        for (index, client) in clients.enumerated() {
            let quota: UInt64 =
                load.requests.map { UInt64($0 / count + (index < $0 % count ? 1 : 0)) } ?? UInt64.max
            let source = RequestSource(plan: plan, connection: index)
            if let rate = load.rate {
                let interval = Double(count) * 1e9 / rate
                drivers.append(
                    OpenLoopDriver(
                        client: client, eventLoop: loops[index], source: source, window: window, timeout: timeout,
                        quota: quota, maxOutstanding: load.maxOutstanding, intervalNanos: interval,
                        // Stagger the connections so their sends interleave instead of bunching.
                        firstPlanned: start + UInt64(interval * Double(index) / Double(count))))
            } else {
                drivers.append(
                    ClosedLoopDriver(
                        client: client, eventLoop: loops[index], source: source, window: window, depth: load.depth,
                        timeout: timeout, quota: quota))
            }
        }
        for driver in drivers { driver.eventLoop.execute { driver.start() } }

        let sampled = drivers
        let progress =
            quiet
            ? nil
            : Task {
                await Progress.run(start: start, window: window) {
                    var sample = ProgressSample()
                    for driver in sampled {
                        guard let one = try? await driver.eventLoop.submit({ driver.sample() }).get() else { continue }
                        sample.completed += one.completed
                        sample.errors += one.errors
                        sample.inFlight += one.inFlight
                    }
                    return sample
                }
            }
        for driver in drivers { try await driver.done.get() }
        progress?.cancel()
        await progress?.value

        var total = Recorder()
        for driver in drivers { total.merge(try await driver.eventLoop.submit { driver.recorder }.get()) }
        return makeResult(plan, total, window)
    }
}

/// Writes the data set the workloads expect.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Create the bench badges and issue each customer's awards (idempotent for the same --seed).")

    @OptionGroup var target: TargetOptions
    @OptionGroup var data: DataSetOptions

    @Option(help: "Connections used for seeding.")
    var connections: Int = 4

    @Option(help: "Issue calls in flight per connection while seeding.")
    var window: Int = 256

    func validate() throws {
        if connections < 1 || connections > 64 { throw ValidationError("--connections must be in 1...64") }
        if window < 1 || window > 1024 { throw ValidationError("--window must be in 1...1024") }
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: target.threads)
        let clients: [BadgeClient]
        do {
            clients = try await connectAll(target: target, count: connections, group: group)
        } catch {
            try? await group.shutdownGracefully()
            printError("badge-load: \(error)")
            throw ExitCode(69)
        }
        do {
            let summary = try await Seeder.seed(clients: clients, data: data, window: window)
            await closeAll(clients, group)
            print(summary.text)
            if !summary.awardsFailed.isEmpty { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            await closeAll(clients, group)
            printError("badge-load: \(error)")
            throw ExitCode(69)
        }
    }
}

extension Seeder.Summary {
    var text: String {
        var text =
            "seeded: \(badgesCreated) badge(s) created, \(grouped(Double(awardsSent))) award(s) issued in "
            + String(format: "%.2f s", seconds)
        if !awardsFailed.isEmpty {
            text += "; failed: " + awardsFailed.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")
        }
        return text
    }
}

func connectAll(target: TargetOptions, count: Int, group: MultiThreadedEventLoopGroup) async throws -> [BadgeClient] {
    var clients: [BadgeClient] = []
    do {
        for _ in 0..<count {
            clients.append(try await BadgeClient.connect(to: target.target, group: group, metadata: target.metadata))
        }
    } catch {
        for client in clients { await client.close() }
        throw error
    }
    return clients
}

func closeAll(_ clients: [BadgeClient], _ group: MultiThreadedEventLoopGroup) async {
    for client in clients { await client.close() }
    try? await group.shutdownGracefully()
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
