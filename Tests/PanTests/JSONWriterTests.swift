import Foundation
import Testing
@testable import PanCore
@testable import PanSQLite

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
}
