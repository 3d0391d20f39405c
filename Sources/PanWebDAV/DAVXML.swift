import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A property's qualified name.
struct DAVPropertyName: Hashable, Sendable {
    var namespace: String
    var name: String
    static func dav(_ name: String) -> DAVPropertyName { .init(namespace: "DAV:", name: name) }
}

/// THE writer of every XML reply of `/dav/`: text built with one escaping
/// rule, namespaces declared where an element needs one.
struct DAVXMLWriter {
    private(set) var text = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // A raw CR would come back as LF (XML's line-end normalization).
            case "\r": out += "&#13;"
            default:
                // XML 1.0 cannot carry most control characters even escaped.
                if scalar.value < 0x20, scalar != "\t", scalar != "\n" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    mutating func raw(_ s: String) { text += s }

    /// What was written since the last take (the whole document for a streamed reply, piece by piece).
    mutating func take() -> String {
        defer { text = "" }
        return text
    }

    /// `<D:name>` with the root's `xmlns:D="DAV:"` on the first one.
    mutating func open(_ name: String, root: Bool = false) {
        text += root ? "<D:\(name) xmlns:D=\"DAV:\">" : "<D:\(name)>"
    }

    mutating func close(_ name: String) { text += "</D:\(name)>" }

    mutating func element(_ name: String, _ value: String) {
        text += "<D:\(name)>\(Self.escape(value))</D:\(name)>"
    }

    /// An element of any namespace: DAV: ones with the `D:` prefix, others with their own default namespace.
    mutating func property(_ property: DAVPropertyName, content: String? = nil) {
        let tag: String
        if property.namespace == "DAV:" {
            tag = "D:" + property.name
            text += "<\(tag)"
        } else {
            tag = property.name
            text += "<\(tag) xmlns=\"\(Self.escape(property.namespace))\""
        }
        if let content, !content.isEmpty { text += ">\(content)</\(tag)>" } else { text += "/>" }
    }
}

/// What a PROPFIND body asks for.
enum PropfindRequest: Equatable, Sendable {
    case allprop
    case propname
    case prop([DAVPropertyName])
}

/// What a PROPPATCH body sets or removes, in order: each property element
/// whole (a `set`'s value is in it, serialized by `DAVXMLElement.serialized`).
struct ProppatchRequest {
    var operations: [(set: Bool, name: DAVPropertyName, element: DAVXMLElement)] = []
}

/// What a LOCK body asks for (`lockinfo`, RFC 4918 §14.11).
struct LockInfo {
    var exclusive: Bool
    /// The `<D:owner>` element serialized, "" when none was given.
    var owner: String
}

/// An element of a request body, namespaces resolved: the part of a body
/// that is stored and written back (a dead property, a lock's owner) is
/// kept whole as a small tree, then serialized with every namespace declared
/// where it is used, so it means the same wherever it is written.
final class DAVXMLElement {
    enum Child {
        case element(DAVXMLElement)
        case text(String)
    }
    let name: DAVPropertyName
    /// Qualified attribute name, its namespace ("" for none), value; in document order.
    var attributes: [(qualified: String, namespace: String, value: String)] = []
    var children: [Child] = []

    init(name: DAVPropertyName) { self.name = name }

    var elements: [DAVXMLElement] {
        children.compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    /// The element as XML text: its own default namespace declared on it (and
    /// on each element inside), prefixed attributes with their prefix declared.
    var serialized: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        out += "<\(name.name) xmlns=\"\(DAVXMLWriter.escape(name.namespace))\""
        var declared: Set<String> = []
        for attribute in attributes {
            if let colon = attribute.qualified.firstIndex(of: ":") {
                let prefix = String(attribute.qualified[..<colon])
                if prefix != "xml", !declared.contains(prefix) {
                    declared.insert(prefix)
                    out += " xmlns:\(prefix)=\"\(DAVXMLWriter.escape(attribute.namespace))\""
                }
            }
            out += " \(attribute.qualified)=\"\(DAVXMLWriter.escape(attribute.value))\""
        }
        if children.isEmpty {
            out += "/>"
            return
        }
        out += ">"
        for child in children {
            switch child {
            case .text(let text): out += DAVXMLWriter.escape(text)
            case .element(let element): element.write(into: &out)
            }
        }
        out += "</\(name.name)>"
    }
}

/// Request bodies of `/dav/`, read with Foundation's XMLParser (namespaces
/// resolved; external entities never resolved).
enum DAVXMLReader {
    struct Invalid: Error {}

    private final class Collector: NSObject, XMLParserDelegate {
        /// (namespace, name) of each element, in document order, with its depth.
        var elements: [(depth: Int, name: DAVPropertyName)] = []
        var depth = 0
        var invalid = false
        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            // A prefix bound to no namespace (`xmlns:bar=""`, or never declared) is not
            // namespace-well-formed (Namespaces in XML 1.0 §5); libxml2 lets it through.
            if let qualifiedName, qualifiedName.contains(":"), (namespaceURI ?? "").isEmpty {
                invalid = true
                parser.abortParsing()
            }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            elements.append((depth, DAVPropertyName(namespace: namespaceURI ?? "", name: local)))
            depth += 1
        }
        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) { depth -= 1 }
    }

    /// Builds the body's element tree (`DAVXMLElement`), refusing what is not
    /// namespace-well-formed and anything nested deeper than `maxDepth`.
    private final class TreeBuilder: NSObject, XMLParserDelegate {
        static let maxDepth = 64
        var root: DAVXMLElement?
        var stack: [DAVXMLElement] = []
        /// Prefix → namespace bindings in scope, innermost last.
        var bindings: [(prefix: String, uri: String)] = []
        var invalid = false

        func fail(_ parser: XMLParser) {
            invalid = true
            parser.abortParsing()
        }

        func parser(_ parser: XMLParser, didStartMappingPrefix prefix: String, toURI namespaceURI: String) {
            bindings.append((prefix, namespaceURI))
        }

        func parser(_ parser: XMLParser, didEndMappingPrefix prefix: String) {
            if let index = bindings.lastIndex(where: { $0.prefix == prefix }) { bindings.remove(at: index) }
        }

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            if let qualifiedName, qualifiedName.contains(":"), (namespaceURI ?? "").isEmpty { return fail(parser) }
            guard stack.count < Self.maxDepth else { return fail(parser) }
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            let element = DAVXMLElement(name: DAVPropertyName(namespace: namespaceURI ?? "", name: local))
            for (qualified, value) in attributes.sorted(by: { $0.key < $1.key }) {
                guard !qualified.hasPrefix("xmlns") else { continue }
                var namespace = ""
                if let colon = qualified.firstIndex(of: ":") {
                    let prefix = String(qualified[..<colon])
                    if prefix == "xml" {
                        namespace = "http://www.w3.org/XML/1998/namespace"
                    } else {
                        guard let bound = bindings.last(where: { $0.prefix == prefix }), !bound.uri.isEmpty else { return fail(parser) }
                        namespace = bound.uri
                    }
                }
                element.attributes.append((qualified, namespace, value))
            }
            if let parent = stack.last { parent.children.append(.element(element)) } else if root == nil { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            guard let current = stack.last else { return }
            if case .text(let before)? = current.children.last {
                current.children[current.children.count - 1] = .text(before + string)
            } else {
                current.children.append(.text(string))
            }
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            self.parser(parser, foundCharacters: String(decoding: CDATABlock, as: UTF8.self))
        }
    }

    static func tree(_ data: Data) throws -> DAVXMLElement {
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = true
        parser.shouldResolveExternalEntities = false
        let builder = TreeBuilder()
        parser.delegate = builder
        guard parser.parse(), !builder.invalid, let root = builder.root else { throw Invalid() }
        return root
    }

    private static func parse(_ data: Data) throws -> [(depth: Int, name: DAVPropertyName)] {
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        let collector = Collector()
        parser.delegate = collector
        guard parser.parse(), !collector.invalid else { throw Invalid() }
        return collector.elements
    }

    static func propfind(_ data: Data) throws -> PropfindRequest {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .allprop }
        let elements = try parse(data)
        guard let root = elements.first, root.name == .dav("propfind") else { throw Invalid() }
        var names: [DAVPropertyName] = []
        var mode: PropfindRequest?
        var inProp = false
        for element in elements.dropFirst() {
            if element.depth == 1 {
                inProp = false
                switch element.name {
                case .dav("allprop"): mode = .allprop
                case .dav("propname"): mode = .propname
                case .dav("prop"): inProp = true; mode = mode ?? .prop([])
                default: continue
                }
            } else if element.depth == 2, inProp {
                names.append(element.name)
            }
        }
        switch mode {
        case .prop?: return .prop(names)
        case let other?: return other
        case nil: throw Invalid()
        }
    }

    static func proppatch(_ data: Data) throws -> ProppatchRequest {
        let root = try tree(data)
        guard root.name == .dav("propertyupdate") else { throw Invalid() }
        var request = ProppatchRequest()
        for step in root.elements {
            let setting: Bool
            switch step.name {
            case .dav("set"): setting = true
            case .dav("remove"): setting = false
            default: continue
            }
            for prop in step.elements where prop.name == .dav("prop") {
                for property in prop.elements { request.operations.append((setting, property.name, property)) }
            }
        }
        return request
    }

    /// A LOCK body: the scope (exclusive or shared) and the owner; only write locks exist.
    static func lockinfo(_ data: Data) throws -> LockInfo {
        let root = try tree(data)
        guard root.name == .dav("lockinfo") else { throw Invalid() }
        var exclusive: Bool?
        var owner = ""
        for part in root.elements {
            switch part.name {
            case .dav("lockscope"):
                for scope in part.elements {
                    if scope.name == .dav("exclusive") { exclusive = true } else if scope.name == .dav("shared") { exclusive = false }
                }
            case .dav("locktype"):
                guard part.elements.contains(where: { $0.name == .dav("write") }) else { throw Invalid() }
            case .dav("owner"):
                owner = part.serialized
            default: continue
            }
        }
        guard let exclusive else { throw Invalid() }
        return LockInfo(exclusive: exclusive, owner: owner)
    }
}
