import Foundation
import HTTPTypes
@testable import PanHTTPSupport
import WCS

/// Uploads as the real clients do, against Pan's local WCS endpoint.
extension TestServer {
    enum SliceStyle: CustomStringConvertible, CaseIterable, Sendable {
        /// Wangsu's Python SDK: 512 KiB chunks.
        case pythonSDK
        /// The web app: 1 MiB chunks with bput.
        case webApp
        /// The desktop app: a whole 4 MiB block per mkblk, no bput.
        case desktop

        var chunkSize: Int? {
            switch self {
            case .pythonSDK: 512 * 1024
            case .webApp: 1024 * 1024
            case .desktop: nil
            }
        }

        var description: String {
            switch self {
            case .pythonSDK: "python-sdk"
            case .webApp: "web-app"
            case .desktop: "desktop"
            }
        }
    }

    func slicePost(_ path: String, token: String, body: Data, contentType: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [.authorization: token, HTTPField.Name("UploadBatch")!: "batch-1"]
        if let contentType { headers[.contentType] = contentType }
        return try await request(.post, path, headers: headers, body: body)
    }

    /// mkblk/bput per block, then mkfile; returns the mkfile reply.
    func sliceUpload(token: String, bytes: Data, style: SliceStyle, extraPath: String = "") async throws -> Reply {
        let blockSize = 4 * 1024 * 1024
        var ctxs: [String] = []
        var blockStart = 0
        repeat {
            let block = bytes[blockStart..<min(bytes.count, blockStart + blockSize)]
            let chunk = style.chunkSize ?? max(block.count, 1)
            var offset = 0
            let firstEnd = min(block.count, chunk)
            var reply = try await slicePost(
                "/mkblk/\(block.count)/\(blockStart / blockSize)", token: token,
                body: Data(block[block.startIndex..<(block.startIndex + firstEnd)]), contentType: "application/octet-stream"
            )
            guard reply.status == 200 else { return reply }
            offset = firstEnd
            while offset < block.count {
                let ctx = reply.json["ctx"] as! String
                let end = min(block.count, offset + chunk)
                reply = try await slicePost(
                    "/bput/\(ctx)/\(offset)", token: token,
                    body: Data(block[(block.startIndex + offset)..<(block.startIndex + end)]), contentType: "application/octet-stream"
                )
                guard reply.status == 200 else { return reply }
                offset = end
            }
            ctxs.append(reply.json["ctx"] as! String)
            blockStart += blockSize
        } while blockStart < bytes.count
        return try await slicePost("/mkfile/\(bytes.count)\(extraPath)", token: token, body: Data(ctxs.joined(separator: ",").utf8), contentType: "text/plain")
    }

    /// A multipart form upload; `fileFirst` as the Java SDK, `androidExtra` adds the Android client's text part named `file`.
    func formUpload(token: String?, bytes: Data, fileName: String = "upload.bin", fileFirst: Bool = false, androidExtra: Bool = false, fields: [String: String] = [:],
                    partContentType: String = "application/octet-stream") async throws -> Reply {
        let boundary = "----pan-test-\(UUID().uuidString)"
        var body = Data()
        func text(_ name: String, _ value: String) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        func file() {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(fileName)\"\r\nContent-Type: \(partContentType)\r\n\r\n".utf8))
            body.append(bytes)
            body.append(Data("\r\n".utf8))
        }
        if androidExtra { text("file", fileName) }
        if fileFirst { file() }
        if let token { text("token", token) }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { text(name, value) }
        if !fileFirst { file() }
        body.append(Data("--\(boundary)--\r\n".utf8))
        return try await request(.post, "/file/upload", headers: [.contentType: "multipart/form-data; boundary=\(boundary)"], body: body)
    }

    /// Files stored by the local endpoint.
    func storedObjectFiles() -> Int {
        let root = services.objectStore.objectsDirectory
        let enumerator = FileManager.default.enumerator(atPath: root)
        var count = 0
        while let item = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + item, isDirectory: &isDirectory), !isDirectory.boolValue { count += 1 }
        }
        return count
    }
}

/// `byte[i] = (i*31 + 7) % 251`, the vectors' input.
func vectorBytes(_ n: Int) -> Data {
    var data = Data(count: n)
    data.withUnsafeMutableBytes { raw in
        let p = raw.bindMemory(to: UInt8.self)
        for i in 0..<n { p[i] = UInt8((i &* 31 &+ 7) % 251) }
    }
    return data
}

let hashVectors: [(n: Int, hash: String)] = [
    (0, "Fto5o-5ea0sNMlW_75VgGJCv2AcJ"),
    (1, "Fl0b5-ndoe6Ilr5bfjSoXuFkUqe0"),
    (4_194_304, "FuzrG4jlHVyozcJGXVljVd4cQ3Op"),
    (4_194_305, "lgncbbZdKxcTzCACSLIvsek6wGWP"),
    (9_437_184, "lhUaW1QMJ9Hr8JXrKG61F1Yv4xDz"),
]
