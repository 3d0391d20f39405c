import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PanCore
import WCS

/// Checks a proof of possession and, when it holds, makes the file (issue #24).
///
/// Three steps, two short transactions, and no database transaction open
/// while bytes are read: the nonce is used up (`claimChallenge`), the ranges
/// are read from the stored object itself and hashed, and only a matching
/// answer places the file (`completeProvenUpload`). A refused proof costs
/// like a failed sign-in: counted per user and per client address, and past
/// the limit refused with 429 before any byte is read.
package struct PossessionCheck: Sendable {
    let store: any PanStore
    let reader: any ObjectRangeReader
    let throttle: ProofThrottle

    package init(store: any PanStore, reader: any ObjectRangeReader, throttle: ProofThrottle) {
        self.store = store
        self.reader = reader
        self.throttle = throttle
    }

    func instantUpload(userId: Int64, address: String, _ request: TokenRequest, _ proof: PossessionProof) async throws -> FileNode {
        let keys = [ProofThrottle.accountKey(userId), ProofThrottle.ipKey(address)]
        // Charged now, refunded on success: concurrent wrong answers can't all slip past the limit.
        if let wait = throttle.begin(keys) { throw PanError.tooManyProofs(retryAfter: wait) }
        let claim = try await store.claimChallenge(userId: userId, proof, hash: request.hash)
        let bytes: [Data]
        do {
            bytes = try await reader.read(claim.object, ranges: claim.ranges)
        } catch {
            // Not the client's fault: refund, and say to upload instead.
            throttle.succeeded(account: [keys[0]], ip: keys[1])
            throw PanError(status: 503, code: "PROOF_UNAVAILABLE", "the stored content cannot be read to check the proof: upload the bytes", retryAfter: 1)
        }
        guard PossessionChallenge.verify(answer: proof.answer, nonce: claim.nonce, rangeBytes: bytes) else { throw PanError.proofFailed }
        throttle.succeeded(account: [keys[0]], ip: keys[1])
        return try await store.completeProvenUpload(userId: userId, request, claim)
    }
}

/// Objects in a real WCS bucket, read by signed Range GETs on the download
/// domain (`DownloadToken`): one request per range, each bounded in time and
/// in the bytes it may return, so a misbehaving origin cannot stall or bloat
/// a token request.
package struct WCSObjectRangeReader: ObjectRangeReader {
    let downloadDomain: String
    let credentials: Credentials
    var httpClient: HTTPClient = .shared
    var timeout: TimeAmount = .seconds(10)

    package init(downloadDomain: String, credentials: Credentials, httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(10)) {
        self.downloadDomain = downloadDomain
        self.credentials = credentials
        self.httpClient = httpClient
        self.timeout = timeout
    }

    package func read(_ object: StoreObject, ranges: [ByteRange]) async throws -> [Data] {
        var domain = downloadDomain
        while domain.hasSuffix("/") { domain.removeLast() }
        let path = object.objectKey.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? object.objectKey
        let deadline = Int64(Date().timeIntervalSince1970) + 300
        let url = DownloadToken.sign(url: "\(domain)/\(path)", deadline: deadline, credentials: credentials)
        var result: [Data] = []
        for range in ranges {
            // Zero bytes asked (the empty object): nothing to fetch.
            guard range.length > 0 else { result.append(Data()); continue }
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Range", value: "bytes=\(range.offset)-\(range.offset + range.length - 1)")
            let response = try await httpClient.execute(request, timeout: timeout)
            let expected = "bytes \(range.offset)-\(range.offset + range.length - 1)/\(object.size)"
            guard response.status == .partialContent, response.headers.first(name: "Content-Range") == expected else {
                throw WCSReadError(status: Int(response.status.code))
            }
            let body = try await response.body.collect(upTo: Int(range.length))
            guard body.readableBytes == Int(range.length) else { throw WCSReadError(status: Int(response.status.code)) }
            result.append(Data(buffer: body))
        }
        return result
    }

    struct WCSReadError: Error { let status: Int }
}
