internal import CFileSync

#if canImport(Glibc)
    import Glibc
#endif

/// Names the calling thread (what `top -H` and `perf` show). Foundation's `Thread.name` does not
/// reach the system here: the writer, the checkpoints and the segment preparer all showed as
/// "oot.default-qos". Linux keeps the first 15 bytes.
public func nameCurrentThread(_ name: String) {
    #if canImport(Glibc)
        _ = pthread_setname_np(UInt(pthread_self()), String(decoding: name.utf8.prefix(15), as: UTF8.self))
    #endif
}
