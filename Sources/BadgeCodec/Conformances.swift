internal import BadgeWireC

// One conformance per generated message: which generated functions pack, unpack and free it.

extension Badges__V1__BadgeDefinition__LabelsEntry: CMapEntry {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__badge_definition__labels_entry__init }
}

extension Badges__V1__BadgeDefinition: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__badge_definition__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__badge_definition__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__badge_definition__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__badge_definition__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__badge_definition__free_unpacked
    }
}

extension Badges__V1__Condition: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__condition__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__condition__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__condition__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__condition__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__condition__free_unpacked
    }
}

extension Badges__V1__TimeOfDayWindow: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__time_of_day_window__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__time_of_day_window__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__time_of_day_window__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__time_of_day_window__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__time_of_day_window__free_unpacked
    }
}

extension Badges__V1__Criterion: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__criterion__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__criterion__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__criterion__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__criterion__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__criterion__free_unpacked
    }
}

extension Badges__V1__Criteria: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__criteria__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__criteria__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__criteria__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__criteria__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__criteria__free_unpacked
    }
}

extension Badges__V1__Progress: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__progress__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__progress__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__progress__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__progress__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__progress__free_unpacked
    }
}

extension Badges__V1__Award__EvidenceFieldsEntry: CMapEntry {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__award__evidence_fields_entry__init }
}

extension Badges__V1__Award: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__award__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__award__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__award__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__award__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__award__free_unpacked
    }
}

extension Badges__V1__PutBadgeRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__put_badge_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__put_badge_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__put_badge_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__put_badge_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__put_badge_request__free_unpacked
    }
}

extension Badges__V1__PutBadgeResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__put_badge_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__put_badge_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__put_badge_response__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__put_badge_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__put_badge_response__free_unpacked
    }
}

extension Badges__V1__GetBadgeRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__get_badge_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__get_badge_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__get_badge_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__get_badge_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__get_badge_request__free_unpacked
    }
}

extension Badges__V1__GetBadgeResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__get_badge_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__get_badge_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__get_badge_response__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__get_badge_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__get_badge_response__free_unpacked
    }
}

extension Badges__V1__ListBadgesRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__list_badges_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__list_badges_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__list_badges_request__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__list_badges_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__list_badges_request__free_unpacked
    }
}

extension Badges__V1__ListBadgesResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__list_badges_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__list_badges_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__list_badges_response__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__list_badges_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__list_badges_response__free_unpacked
    }
}

extension Badges__V1__DeactivateBadgeRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__deactivate_badge_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__deactivate_badge_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__deactivate_badge_request__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__deactivate_badge_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__deactivate_badge_request__free_unpacked
    }
}

extension Badges__V1__DeactivateBadgeResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__deactivate_badge_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__deactivate_badge_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__deactivate_badge_response__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__deactivate_badge_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__deactivate_badge_response__free_unpacked
    }
}

extension Badges__V1__IssueRequest__EvidenceFieldsEntry: CMapEntry {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void {
        badges__v1__issue_request__evidence_fields_entry__init
    }
}

extension Badges__V1__IssueRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__issue_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__issue_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__issue_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__issue_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__issue_request__free_unpacked
    }
}

extension Badges__V1__IssueResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__issue_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__issue_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__issue_response__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__issue_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__issue_response__free_unpacked
    }
}

extension Badges__V1__RevokeRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__revoke_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__revoke_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__revoke_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__revoke_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__revoke_request__free_unpacked
    }
}

extension Badges__V1__RevokeResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__revoke_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__revoke_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__revoke_response__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__revoke_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__revoke_response__free_unpacked
    }
}

extension Badges__V1__ListRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__list_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__list_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__list_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__list_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__list_request__free_unpacked
    }
}

extension Badges__V1__TrophyCaseEntry: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__trophy_case_entry__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__trophy_case_entry__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__trophy_case_entry__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__trophy_case_entry__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__trophy_case_entry__free_unpacked
    }
}

extension Badges__V1__ListResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__list_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__list_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__list_response__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__list_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__list_response__free_unpacked
    }
}

extension Badges__V1__ExportAwardsRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__export_awards_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__export_awards_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__export_awards_request__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__export_awards_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__export_awards_request__free_unpacked
    }
}

extension Badges__V1__ExportAwardsChunk: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__export_awards_chunk__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__export_awards_chunk__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int {
        badges__v1__export_awards_chunk__pack
    }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__export_awards_chunk__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__export_awards_chunk__free_unpacked
    }
}

extension Badges__V1__EvaluateRequest__AttributesEntry: CMapEntry {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void {
        badges__v1__evaluate_request__attributes_entry__init
    }
}

extension Badges__V1__EvaluateRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__evaluate_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__evaluate_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__evaluate_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__evaluate_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__evaluate_request__free_unpacked
    }
}

extension Badges__V1__ProgressChange: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__progress_change__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__progress_change__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__progress_change__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__progress_change__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__progress_change__free_unpacked
    }
}

extension Badges__V1__EvaluateResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__evaluate_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__evaluate_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__evaluate_response__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__evaluate_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__evaluate_response__free_unpacked
    }
}

extension Badges__V1__HealthRequest: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__health_request__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__health_request__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__health_request__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__health_request__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__health_request__free_unpacked
    }
}

extension Badges__V1__HealthResponse: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__health_response__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__health_response__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__health_response__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__health_response__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__health_response__free_unpacked
    }
}

extension Badges__V1__MetadataEntry: CMessage, CMapEntry {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__metadata_entry__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__metadata_entry__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__metadata_entry__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__metadata_entry__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__metadata_entry__free_unpacked
    }
}

extension Badges__V1__RequestFrame: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__request_frame__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__request_frame__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__request_frame__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__request_frame__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__request_frame__free_unpacked
    }
}

extension Badges__V1__ResponseFrame: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__response_frame__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__response_frame__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__response_frame__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__response_frame__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__response_frame__free_unpacked
    }
}

extension Badges__V1__CriterionState: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__criterion_state__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__criterion_state__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__criterion_state__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__criterion_state__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__criterion_state__free_unpacked
    }
}

extension Badges__V1__EventRecord: CMessage {
    static var initialize: (UnsafeMutablePointer<Self>?) -> Void { badges__v1__event_record__init }
    static var packedSize: (UnsafePointer<Self>?) -> Int { badges__v1__event_record__get_packed_size }
    static var pack: (UnsafePointer<Self>?, UnsafeMutablePointer<UInt8>?) -> Int { badges__v1__event_record__pack }
    static var unpack:
        (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Self>?
    {
        badges__v1__event_record__unpack
    }
    static var freeUnpacked: (UnsafeMutablePointer<Self>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void {
        badges__v1__event_record__free_unpacked
    }
}
