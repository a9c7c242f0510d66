/// Reads the two fields of a stored `badges.v1.Award` that decide whether it is held now, without
/// decoding the rest: a trophy case splices the stored bytes into its reply as they are.
public enum StoredAward {
    /// `expires_at_ms` (field 5) and `revoked_at_ms` (field 10); nil when the bytes are not a
    /// well-formed protobuf message.
    public static func liveness(_ bytes: UnsafeRawBufferPointer) -> (expiresAtMs: Int64, revokedAtMs: Int64)? {
        var reader = FieldReader(bytes)
        var expiresAtMs: Int64 = 0
        var revokedAtMs: Int64 = 0
        while !reader.atEnd {
            guard let tag = reader.tag() else { return nil }
            switch tag & 7 {
            case 0:
                guard let value = reader.varint() else { return nil }
                // Last one wins, as in any protobuf decoder.
                if tag >> 3 == 5 { expiresAtMs = Int64(bitPattern: value) }
                if tag >> 3 == 10 { revokedAtMs = Int64(bitPattern: value) }
            default: guard reader.skipField(tag & 7) else { return nil }
            }
        }
        return (expiresAtMs, revokedAtMs)
    }
}
