import Foundation
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// Issue #29's rclone judge at full size: `rclone sync` of a generated tree of
/// 1,000 files (nested, 0 B to 20 MiB, Chinese names and spaces) up to `/dav/`
/// and back, `rclone check --download` clean, a second sync that transfers
/// nothing, and a file changed through the API picked up by the next sync down.
@Suite struct RcloneSyncTests {
    /// One generated file: where it goes and how many bytes it has.
    struct GeneratedFile: Sendable {
        let path: String
        let size: Int
    }

    /// 1,000 files in 3 levels of folders. Most are small (0–64 KiB, the shape
    /// of a documents folder); a few sit on the 4 MiB block edges of the WCS
    /// etag, and two are large (12 and 20 MiB). About 45 MB in all.
    static func tree() -> [GeneratedFile] {
        let folders = ["文档", "照片 2026", "项目/源 代码", "项目/资料", "音乐/周杰伦 精选", "a b", "空格 与 中文/第 二 层/第三层"]
        let special = [0, 1, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, 12 << 20, 20 << 20]
        return (0..<1000).map { index in
            let folder = folders[index % folders.count]
            let size = index < special.count ? special[index] : (index * 7919) % (64 << 10)
            let name = index % 3 == 0 ? "文件 \(index).txt" : index % 3 == 1 ? "report \(index) final.bin" : "笔记-\(index)"
            return GeneratedFile(path: "\(folder)/\(name)", size: size)
        }
    }

    /// Bytes that differ from file to file and from block to block (an etag of
    /// repeated blocks would hide a block-order bug).
    static func content(_ index: Int, size: Int) -> Data {
        var data = Data(count: size)
        data.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) in
            var state = UInt64(index) &* 0x9E37_79B9_7F4A_7C15 | 1
            for offset in 0..<size {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                raw[offset] = UInt8(truncatingIfNeeded: state)
            }
        }
        return data
    }

    static func write(_ files: [GeneratedFile], under root: String) async throws {
        try await offCooperativePool {
            for (index, file) in files.enumerated() {
                let full = root + "/" + file.path
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard FileManager.default.createFile(atPath: full, contents: content(index, size: file.size)) else {
                    throw TestFailure("could not write \(full)")
                }
            }
        }
    }

    /// The lines of rclone's `-v` log that report a transfer.
    static func transfers(_ output: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.contains(": Copied (") }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/rclone")))
    func thousandFilesUpAndBack() async throws {
        try await withServer { server in
            try await server.createUser("alice", capacity: 1 << 30)
            let session = try await server.login("alice")
            let scratch = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let config = scratch + "/rclone.conf"
            FileManager.default.createFile(atPath: config, contents: Data())
            let (_, obscured) = try await WebDAVClientTests.rclone(["obscure", "secret"], config: config)
            let remote = ":webdav,url='http://127.0.0.1:\(server.port)/dav/',vendor=other,user=alice,pass=\(obscured.trimmingCharacters(in: .whitespacesAndNewlines)):备份"
            let files = Self.tree()
            let source = scratch + "/源 目录"
            try await Self.write(files, under: source)

            let up = try await WebDAVClientTests.rclone(["sync", "-v", "--transfers", "4", source, remote], config: config, timeout: 300)
            #expect(up.status == 0, "rclone sync up:\n\(up.output.suffix(3000))")
            #expect(Self.transfers(up.output).count == files.count)
            let size = try await WebDAVClientTests.rclone(["size", "--json", remote], config: config)
            // stdout and stderr share the file: the JSON is the line that starts with `{`.
            let json = size.output.split(separator: "\n").first { $0.hasPrefix("{") } ?? ""
            let counted = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect(counted?["count"] as? Int == files.count, "\(size.output)")
            #expect(counted?["bytes"] as? Int == files.reduce(0) { $0 + $1.size })

            let back = scratch + "/回 来"
            let down = try await WebDAVClientTests.rclone(["sync", "-v", remote, back], config: config, timeout: 300)
            #expect(down.status == 0, "rclone sync down:\n\(down.output.suffix(3000))")
            let differing = try await offCooperativePool {
                files.enumerated().filter { index, file in
                    FileManager.default.contents(atPath: back + "/" + file.path) != Self.content(index, size: file.size)
                }.map(\.element.path)
            }
            #expect(differing.isEmpty, "came back different: \(differing.prefix(5))")

            let check = try await WebDAVClientTests.rclone(["check", "--download", source, remote], config: config, timeout: 300)
            #expect(check.status == 0, "rclone check --download:\n\(check.output.suffix(3000))")

            // Nothing changed: a second sync moves nothing.
            let again = try await WebDAVClientTests.rclone(["sync", "-v", source, remote], config: config, timeout: 300)
            #expect(again.status == 0, "rclone second sync:\n\(again.output.suffix(3000))")
            #expect(Self.transfers(again.output).isEmpty, "a second sync transferred: \(Self.transfers(again.output).prefix(5))")

            // A file replaced through the v1 API (form upload, override) is what the next sync down brings.
            let changed = files[10]
            let newContent = Data("changed through the API, \(Date())\n".utf8)
            let folder = "/备份/" + (changed.path as NSString).deletingLastPathComponent
            let name = (changed.path as NSString).lastPathComponent
            let grant = try await server.post(
                "/v1/store/token", ["name": name, "path": folder, "size": newContent.count, "override": true], token: session
            )
            let upToken = try #require(grant.result["token"] as? String, "\(grant.text)")
            let uploaded = try await server.formUpload(token: upToken, bytes: newContent, fileName: name)
            #expect(uploaded.status == 200, "\(uploaded.text)")
            let pickup = try await WebDAVClientTests.rclone(["sync", "-v", remote, back], config: config, timeout: 300)
            #expect(pickup.status == 0, "rclone sync down after the change:\n\(pickup.output.suffix(3000))")
            #expect(Self.transfers(pickup.output).count == 1, "\(Self.transfers(pickup.output).prefix(5))")
            #expect(FileManager.default.contents(atPath: back + "/" + changed.path) == newContent)
        }
    }
}
