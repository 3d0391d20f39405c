import WCS

/// A small JSON writer for the replies on the hot paths (file objects, token
/// grants, the envelope). Foundation's `JSONEncoder` goes through generic
/// containers and boxing for every field and was ~7% of a callback's CPU.
/// Output is what `JSONEncoder` with `.withoutEscapingSlashes` produces,
/// up to key order and `\u` escape spelling (strings are escaped by WCS's
/// `OrderedJSON`, the escaper the upload-token policy already used).
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    public mutating func object(_ body: (inout JSONWriter) -> Void) { container("{", "}", body) }

    public mutating func array(_ body: (inout JSONWriter) -> Void) { container("[", "]", body) }

    private mutating func container(_ open: Unicode.Scalar, _ close: Unicode.Scalar, _ body: (inout JSONWriter) -> Void) {
        separate()
        bytes.append(UInt8(ascii: open))
        needsComma = false
        body(&self)
        bytes.append(UInt8(ascii: close))
        needsComma = true
    }

    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        needsComma = true
    }

    public mutating func int(_ value: some BinaryInteger) {
        separate()
        OrderedJSON.appendDecimal(value, to: &bytes)
        needsComma = true
    }

    public mutating func bool(_ value: Bool) { raw(value ? "true" : "false") }
    public mutating func null() { raw("null") }

    /// Already-encoded JSON, inserted as a value.
    public mutating func raw(_ json: some Sequence<UInt8>) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    public mutating func raw(_ json: String) { raw(json.utf8) }

    public mutating func field(_ name: String, _ value: String) { key(name); string(value) }
    public mutating func field(_ name: String, _ value: some BinaryInteger) { key(name); int(value) }
    public mutating func field(_ name: String, _ value: Bool) { key(name); bool(value) }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func appendQuoted(_ string: String) {
        OrderedJSON.append(quoted: string, to: &bytes)
    }
}

/// A value that writes itself with `JSONWriter` (the fast path of `Reply`).
public protocol JSONWritable: Encodable {
    func write(to json: inout JSONWriter)
}

extension JSONWritable {
    public var jsonBytes: [UInt8] {
        var writer = JSONWriter()
        write(to: &writer)
        return writer.bytes
    }
}

extension Array: JSONWritable where Element: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.array { json in for element in self { element.write(to: &json) } }
    }
}

extension Int: JSONWritable {
    /// A count as a reply's `result` (move, copy, remove, emptyBin).
    public func write(to json: inout JSONWriter) { json.int(self) }
}
