#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `Environment.growMapIfNeeded` did.
public enum MapGrowth: Sendable, Equatable {
    /// The map is less full than the threshold, or may not grow (`maxMapSize` nil).
    case notNeeded
    /// The map was remapped from `from` to `to` bytes.
    case grown(from: Int, to: Int)
    /// A transaction or a checkpoint's copy was using the map at that moment; try again.
    case busy
    /// The map may grow no further: `maxMapSize` is reached, or the file system has too little
    /// free space. `freeDiskBytes` says which.
    case noRoom(mapSize: Int, maxMapSize: Int, freeDiskBytes: Int)
}

extension Environment {
    /// Share of the map in use from which `growMapIfNeeded` grows it.
    public static let growthThreshold = 0.8

    /// Grows the map once it is `growthThreshold` full (or, with `whenFull`, whatever its use: a
    /// write just failed with `isMapFull`), so that a store that outgrows `Options.mapSize` keeps
    /// taking writes. It doubles, up to `maxMapSize`, as long as the map's unwritten part stays
    /// within half the file system's free space: with `MDB_WRITEMAP` the map is a sparse file whose
    /// pages take disk blocks as they are first written, and a write to the map that finds the disk
    /// full kills the process (SIGBUS) where a full map only fails the write. Growth of less than 1/16 of the map is not worth a
    /// remap and counts as no room (unless it reaches `maxMapSize`).
    public func growMapIfNeeded(whenFull: Bool = false) throws(LMDBError) -> MapGrowth {
        guard let maxMapSize else { return .notNeeded }
        let (current, used) = mapUsage()
        guard current > 0 else { return .notNeeded }
        if !whenFull, Double(used) < Double(current) * Self.growthThreshold { return .notNeeded }
        let free = Self.freeDiskBytes(path)
        guard let target = Self.grownMapSize(current: current, used: used, maxMapSize: maxMapSize, freeDiskBytes: free)
        else {
            return .noRoom(mapSize: current, maxMapSize: maxMapSize, freeDiskBytes: free)
        }
        return try remap(to: target) ? .grown(from: current, to: target) : .busy
    }

    /// The size a map of `current` bytes, `used` of them in use, grows to (see `growMapIfNeeded`), or
    /// nil when it may not. The part of the map not yet written takes disk as it is written, so it is
    /// that part (the new size less what is used) that must stay within half the free space.
    static func grownMapSize(current: Int, used: Int, maxMapSize: Int, freeDiskBytes free: Int) -> Int? {
        // LMDB wants a multiple of the OS page size.
        let page = max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096)
        let doubled = current > Int.max / 2 ? Int.max : current * 2
        let (withinDisk, overflow) = used.addingReportingOverflow(free / 2)
        let target = min(doubled, maxMapSize, overflow ? Int.max : withinDisk) / page * page
        guard target >= current + max(current / 16, page) || (target == maxMapSize && target > current) else {
            return nil
        }
        return target
    }

    /// Free bytes on the file system holding `path` for an unprivileged writer (Int.max if unknown:
    /// the check is a guard, not a promise, as other files take space too).
    static func freeDiskBytes(_ path: String) -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return Int.max }
        let (bytes, overflow) = Int(info.f_bavail).multipliedReportingOverflow(by: Int(info.f_frsize))
        return overflow ? Int.max : bytes
    }
}
