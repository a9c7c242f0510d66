/// Encodes `badges.v1.IssueResponse` around an award's stored record.
public enum IssueReplyWriter {
    public static func encode(awardRecord: [UInt8], replayed: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(awardRecord.count + 8)
        bytes.appendMessage(field: 1, awardRecord)
        if replayed { bytes.append(contentsOf: [2 << 3, 1] as [UInt8]) }
        return bytes
    }
}
