import Logging

/// swift-log's `StreamLogHandler`, with metadata that is cheap to set.
///
/// `StreamLogHandler` renders its whole metadata as text on every change
/// (and again for any line that carries metadata of its own). Pan sets the
/// request id on every request's logger (`RequestLogMiddleware`), while most
/// requests, at the usual levels, write no line at all: that rendering was
/// ~4% of a token request's CPU (issue #18). Here metadata is kept as it is
/// and merged into the line only when one is written; the line itself is
/// `StreamLogHandler`'s, unchanged.
public struct LazyMetadataLogHandler: LogHandler {
    private var stream: StreamLogHandler
    public var metadata: Logger.Metadata = [:]

    public init(label: String) {
        stream = StreamLogHandler.standardError(label: label)
    }

    public var logLevel: Logger.Level {
        get { stream.logLevel }
        set { stream.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { stream.metadataProvider }
        set { stream.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        }
        stream.log(event: event)
    }
}
