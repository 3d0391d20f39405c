import Foundation
import Testing
@testable import PanCore
@testable import PanServer
import WCS

/// davfs2 (Linux's WebDAV file system, over FUSE) mounting `/dav/`: the tree
/// made and changed with ordinary file commands lands in Pan, survives an
/// unmount, and `df` shows the user's quota (RFC 4331 properties).
///
/// Runs where davfs2 can mount: root, `/dev/fuse`, `mount.davfs` (CI installs
/// davfs2; a container without FUSE skips it). `buf_size 64`: with the default
/// 16 KiB, davfs2 1.6/1.7 fails every directory read with EINVAL on Linux ≥ 6.16
/// (alisarctl/davfs2#22), whatever the server.
@Suite struct DavfsMountTests {
    static let mountHelper = ["/sbin/mount.davfs", "/usr/sbin/mount.davfs"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var canMount: Bool {
        mountHelper != nil && getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse")
    }

    static func shell(_ script: String, _ arguments: [String], output: String, timeout: TimeInterval = 120) async throws -> Int32 {
        let run = try await ChildProcess.run(
            "/bin/sh", ["-c", script, "sh"] + arguments, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8"],
            stdout: .file(output), stderr: .file(output), timeout: timeout
        )
        #expect(!run.timedOut, "a davfs2 step did not finish within \(timeout) s")
        return run.timedOut ? -1 : run.status
    }

    @Test(.enabled(if: canMount))
    func mountWriteUnmountRemount() async throws {
        try await withServer { server in
            try await server.createUser("alice", capacity: 3 << 30)
            let scratch = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let mountPoint = scratch + "/mnt", log = scratch + "/out"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            let url = "http://127.0.0.1:\(server.port)/dav/"
            let secrets = scratch + "/secrets", conf = scratch + "/davfs2.conf"
            FileManager.default.createFile(atPath: secrets, contents: Data("\(url) alice secret\n".utf8), attributes: [.posixPermissions: 0o600])
            // With locks (davfs2 LOCKs a file it opens for writing, PUTs with the token, UNLOCKs),
            // uploads at close. The cache stays davfs2's own (/var/cache/davfs2): it drops to
            // its user and could not write here.
            let settings = "use_locks 1\nbuf_size 64\ndelay_upload 0\nsecrets \(secrets)\n"
            FileManager.default.createFile(atPath: conf, contents: Data(settings.utf8))
            let big = scratch + "/big.bin"
            FileManager.default.createFile(atPath: big, contents: RcloneSyncTests.content(9, size: (5 << 20) + 3))
            let mount = "mount.davfs \"$1\" \"$2\" -o conf=\"$3\""
            // Whatever happens below, nothing stays mounted.
            defer { _ = try? ChildProcess("/bin/sh", ["-c", "mountpoint -q \"$1\" && umount -l \"$1\"", "sh", mountPoint], environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]) }

            let first = try await Self.shell("""
                set -e
                \(mount)
                mkdir "$2/文档"
                printf 'hello davfs\\n' > "$2/文档/a b.txt"
                cp "$4" "$2/文档/big.bin"
                cp "$2/文档/a b.txt" "$2/文档/副本.txt"
                mv "$2/文档/副本.txt" "$2/moved.txt"
                ls "$2/文档"
                df -B1 --output=size "$2" | tail -1
                umount "$2"
                """, [url, mountPoint, conf, big], output: log)
            let firstOutput = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(first == 0, "davfs2, first mount:\n\(firstOutput)")
            #expect(firstOutput.contains("a b.txt") && firstOutput.contains("big.bin"), "\(firstOutput)")
            // `df` reports quota-used + quota-available: the user's capacity (in whole blocks).
            #expect(firstOutput.split(separator: "\n").contains { line in
                Int64(line.trimmingCharacters(in: .whitespaces)).map { abs($0 - (3 << 30)) < 1 << 20 } ?? false
            }, "\(firstOutput)")

            // davfs2 locked what it wrote (class 2 through a real client).
            let scrape = try await Scrape.of(server)
            let locks = scrape.samples.filter { $0.name == "pan_http_requests_total" && $0.labels["method"] == "LOCK" && $0.labels["status"]?.hasPrefix("20") == true }
            #expect(locks.reduce(0) { $0 + $1.value } >= 1, "no successful LOCK from davfs2")
            // In Pan, as the API sees it.
            #expect(try await server.count("nodes", "name = 'big.bin' AND size = \((5 << 20) + 3) AND store_hash = '\(ContentHasher.hash(RcloneSyncTests.content(9, size: (5 << 20) + 3)))'") == 1)
            #expect(try await WebDAVTests.dav(server, "GET", "/dav/moved.txt").text == "hello davfs\n")
            #expect(try await WebDAVTests.dav(server, "GET", "/dav/%E6%96%87%E6%A1%A3/a%20b.txt").status == 200)

            // A fresh mount lists and reads it all back.
            let log2 = scratch + "/out2"
            let second = try await Self.shell("""
                set -e
                \(mount)
                ls "$2" "$2/文档"
                cmp "$4" "$2/文档/big.bin"
                cat "$2/moved.txt"
                umount "$2"
                """, [url, mountPoint, conf, big], output: log2)
            let secondOutput = (try? String(contentsOfFile: log2, encoding: .utf8)) ?? ""
            #expect(second == 0, "davfs2, second mount:\n\(secondOutput)")
            #expect(secondOutput.contains("moved.txt") && secondOutput.contains("hello davfs"), "\(secondOutput)")
        }
    }
}
