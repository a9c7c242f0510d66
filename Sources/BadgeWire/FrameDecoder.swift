import NIOCore

/// What the decoder hands on: the peer's preface once, then one envelope per frame.
public enum WireInbound: Sendable {
    case preface(version: UInt16)
    case frame(ByteBuffer)
}

/// Reads the connection preface, then length-prefixed frames (u32 big-endian length, then that many
/// bytes), refusing any frame larger than `maxFrameSize` before buffering it.
public struct WireFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireInbound

    private let maxFrameSize: Int
    private var sawPreface = false

    public init(maxFrameSize: Int = WireProtocol.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if !sawPreface {
            // Reject garbage as soon as the bytes seen so far cannot be the magic.
            let available = min(buffer.readableBytes, WireProtocol.magic.count)
            if let head = buffer.getBytes(at: buffer.readerIndex, length: available),
                head != Array(WireProtocol.magic.prefix(available))
            {
                throw WireError.badPreface(head)
            }
            guard let bytes = buffer.readBytes(length: WireProtocol.prefaceLength) else { return .needMoreData }
            sawPreface = true
            let version = UInt16(bytes[6]) << 8 | UInt16(bytes[7])
            context.fireChannelRead(wrapInboundOut(.preface(version: version)))
            return .continue
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        if Int(length) > maxFrameSize { throw WireError.frameTooLarge(size: Int(length), limit: maxFrameSize) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(.frame(frame)))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 { throw WireError.truncatedFrame(have: buffer.readableBytes) }
        return .needMoreData
    }
}
