import WCS
import Foundation
import Logging
import PanCore

/// What happens after the bytes are stored, as WCS does it: the callback
/// (its answer is relayed), or the policy's `returnBody`/`returnUrl`.
package struct UploadCompletion: Sendable {
    let callbackClient: CallbackClient
    let publicBaseURL: String
    let store: LocalObjectStore
    let panStore: any PanStore
    /// Shared by the form and slice endpoints: a token completes one upload.
    let tokenUse: UploadTokenUse

    package init(callbackClient: CallbackClient, publicBaseURL: String, store: LocalObjectStore, panStore: any PanStore, settings: UploadSettings) {
        self.callbackClient = callbackClient
        self.publicBaseURL = publicBaseURL
        self.store = store
        self.panStore = panStore
        tokenUse = UploadTokenUse(panStore: panStore, store: store, settings: settings)
    }

    struct Stored: Sendable {
        var policy: PutPolicy
        var key: String
        var hash: String
        var size: Int64
        var fileName: String
        var mimeType: String
        var uploaderIP: String
        var customVariables: [String: String]
        /// The file this upload put at `key` (nil before it is published: `magicValues`).
        var published: LocalObjectStore.PublishedObject? = nil
    }

    enum Result: Sendable {
        /// The callback answered; its body is relayed verbatim.
        case callback(status: Int, body: Data)
        /// No 2xx answer: why, for the `579`'s message.
        case callbackFailed(String)
        /// No callback: `returnBody` (or `hash=`), base64url as WCS sends it.
        case returnBody(String)
        /// `returnUrl`: a 303 to it with `upload_ret`.
        case redirect(String)
    }

    func magicValues(_ stored: Stored) -> [String: String] {
        var values = stored.customVariables
        values["bucket"] = stored.policy.bucket
        values["key"] = stored.key
        values["fname"] = stored.fileName
        values["fsize"] = String(stored.size)
        values["mimeType"] = stored.mimeType
        values["hash"] = stored.hash
        values["ip"] = stored.uploaderIP
        values["avinfo"] = ""
        // WCS sends the object's URL in URL-safe base64.
        values["url"] = Base64URL.encode(publicBaseURL + "/objects/" + (stored.key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? stored.key))
        return values
    }

    func complete(_ stored: Stored, logger: Logger) async -> Result {
        let values = magicValues(stored)
        if let callbackUrl = stored.policy.callbackUrl, !callbackUrl.isEmpty {
            let body = MagicVariables.substitute(stored.policy.callbackBody ?? "", values: values)
            let outcome = await callbackClient.post(url: callbackUrl, substitutedBody: body, logger: logger)
            await removeUnlessRecorded(stored, logger: logger)
            switch outcome {
            case .success(let answer) where (200..<300).contains(answer.status):
                return .callback(status: answer.status, body: answer.body)
            case .success(let answer):
                return .callbackFailed("\(callbackUrl) answered \(answer.status)")
            case .failure(let failure):
                return .callbackFailed(failure.description)
            }
        }
        var returned = "hash=\(stored.hash)"
        if let template = stored.policy.returnBody, !template.isEmpty {
            returned = MagicVariables.substitute(template, values: values) + "&hash=\(stored.hash)"
        }
        let encoded = Base64URL.encode(returned)
        if let returnUrl = stored.policy.returnUrl, !returnUrl.isEmpty {
            return .redirect(returnUrl + (returnUrl.contains("?") ? "&" : "?") + "upload_ret=" + encoded)
        }
        return .returnBody(encoded)
    }

    /// Bytes the callback did not turn into the stored object of their hash —
    /// refused (quota, name taken, expired), failed, or the hash was already
    /// stored under another key (the first object is kept) — are deleted at
    /// once: they would otherwise sit on disk outside every quota until
    /// `pan store gc`. A retried upload with the same token writes them again.
    /// Only the file this upload published goes, never other bytes at the key.
    private func removeUnlessRecorded(_ stored: Stored, logger: Logger) async {
        guard let published = stored.published else { return }
        let recorded = try? await panStore.isStoredObject(hash: stored.hash, key: stored.key)
        // On a read error keep the bytes: `pan store gc` collects them later.
        guard recorded == false else { return }
        let store = self.store
        _ = try? await BlockingIO.run { store.removePublished(published) }
        logger.debug("removed unrecorded upload", metadata: ["key": .string(stored.key)])
    }
}
