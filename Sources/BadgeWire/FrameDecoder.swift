import NIOCore

/// What the decoder hands on: the peer's preface once, then one envelope per frame.
public enum WireInbound: Sendable {
    case preface(version: UInt16)
    case frame(ByteBuffer)
}

/// The framing rules, without a channel pipeline: the connection preface first, then
/// length-prefixed frames (u32 big-endian length, then that many bytes). A frame larger than
/// `maxFrameSize` is refused from its length alone, before any of it is buffered.
public struct WireFrameParser: Sendable {
    /// What starts at the buffer's reader index.
    public enum Next: Sendable, Equatable {
        case needMoreData
        /// The preface (already consumed).
        case preface(version: UInt16)
        /// A whole frame: its length prefix is consumed and its envelope is the next `length`
        /// readable bytes, which the caller consumes.
        case frame(length: Int)
    }

    public let maxFrameSize: Int
    private var sawPreface = false

    public init(maxFrameSize: Int = WireProtocol.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    public mutating func next(_ buffer: inout ByteBuffer) throws(WireError) -> Next {
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
            return .preface(version: UInt16(bytes[6]) << 8 | UInt16(bytes[7]))
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        if Int(length) > maxFrameSize { throw WireError.frameTooLarge(size: Int(length), limit: maxFrameSize) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        return .frame(length: Int(length))
    }
}

/// `WireFrameParser` as a pipeline decoder (the client's), handing each frame on as a slice.
public struct WireFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = WireInbound

    private var parser: WireFrameParser

    public init(maxFrameSize: Int = WireProtocol.defaultMaxFrameSize) {
        parser = WireFrameParser(maxFrameSize: maxFrameSize)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        switch try parser.next(&buffer) {
        case .needMoreData:
            return .needMoreData
        case .preface(let version):
            context.fireChannelRead(wrapInboundOut(.preface(version: version)))
        case .frame(let length):
            context.fireChannelRead(wrapInboundOut(.frame(buffer.readSlice(length: length)!)))
        }
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
