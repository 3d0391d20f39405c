import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite
import SQLCommon
import WCS

/// The hand-written JSON of the hot replies must say exactly what `JSONEncoder` says.
@Suite("JSONWriter matches JSONEncoder")
struct JSONWriterTests {
    static func node(name: String, storeId: String?) throws -> FileNode {
        FileNode(
            id: 1, parentId: 0, uuid: "u1", userId: 7, name: name, path: "/a/b", pathId: "p", parent: "u0",
            type: storeId == nil ? .directory : .file, ext: "txt", size: 12, mime: "text/plain", storeId: storeId,
            atime: 1, ctime: 2, mtime: 3, lft: 4, rgt: 5, version: 6, locking: true, preview: 1, flag: 0, state: 0, recycledAt: nil
        )
    }

    static func object(_ bytes: some Sequence<UInt8>) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    @Test("file and directory objects, with quotes, backslashes, control characters, slashes and CJK in names",
          arguments: ["plain.txt", "q\"uote\\back/slash.txt", "tab\tnl\ncr\rbell\u{07}.bin", "文件 名.docx", "emoji 📄"])
    func fileNodes(name: String) throws {
        for storeId in [Optional("FnHash"), nil] {
            let node = try Self.node(name: name, storeId: storeId)
            let written = try Self.object(node.jsonBytes)
            let encoded = try Self.object(try JSONEncoder().encode(node))
            #expect(written == encoded)
            #expect(written["name"] as? String == name)
            #expect((written["storeId"] != nil) == (storeId != nil))
        }
    }

    @Test("arrays and raw fragments")
    func arrays() throws {
        let nodes = [try Self.node(name: "a", storeId: "h"), try Self.node(name: "b", storeId: nil)]
        let written = try JSONSerialization.jsonObject(with: Data(nodes.jsonBytes)) as? NSArray
        let encoded = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(nodes)) as? NSArray
        #expect(written == encoded)
        var json = JSONWriter()
        json.object { json in
            json.key("list"); json.raw("[1,2]")
            json.key("none"); json.null()
            json.field("n", -5)
        }
        #expect(String(decoding: json.bytes, as: UTF8.self) == #"{"list":[1,2],"none":null,"n":-5}"#)
    }

    @Test("integers are written digit by digit exactly as String(_:) spells them, at the edges too")
    func integers() {
        let values: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, 1_234_567_890, Int64.max, Int64.min, Int64.min + 1]
        for value in values {
            var out: [UInt8] = [UInt8(ascii: "x")]
            OrderedJSON.appendDecimal(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
        }
        var wide: [UInt8] = []
        OrderedJSON.appendDecimal(UInt64.max, to: &wide)
        #expect(String(decoding: wide, as: UTF8.self) == String(UInt64.max))
        var writer = JSONWriter()
        writer.object { $0.key("n"); $0.int(-42) }
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"n":-42}"#)
    }

    @Test("strings: copied whole when nothing needs escaping, escaped when something does, native or bridged alike")
    func quoting() throws {
        let cases = ["", "plain", "文件 名", "q\"uote", "back\\slash", "nl\n", "\u{01}", "tail\"", "\"head"]
        for text in cases {
            var out: [UInt8] = []
            OrderedJSON.append(quoted: text, to: &out)
            let decoded = try JSONSerialization.jsonObject(with: Data(out), options: .fragmentsAllowed) as? String
            #expect(decoded == text, "\(text.debugDescription) → \(String(decoding: out, as: UTF8.self))")
        }
        // A bridged NSString may not be contiguous UTF-8: the general path.
        let shared = NSString(string: "bridged \"q\"") as String
        var out: [UInt8] = []
        OrderedJSON.append(quoted: shared, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""bridged \"q\"""#)
    }

    @Test("a row is read by column name through its shared layout; an unknown name is an error, duplicates read the first")
    func rowLayout() throws {
        let layout = ColumnLayout(["id", "name", "id"])
        let row = Row(layout: layout, values: [.integer(1), .text("a"), .integer(2)])
        #expect(try row.int64("id") == 1)
        #expect(try row.string("name") == "a")
        #expect(row["missing"] == .null)
        #expect(throws: RowError.self) { try row.int64("missing") }
        #expect(Row(columns: ["x"], values: [.integer(5)])["x"] == .integer(5))
    }
}
