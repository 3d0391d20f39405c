import PanCore

/// Bytes arriving for an upload session keep it from lapsing (`PAN_UPLOAD_IDLE`,
/// issue #26): every mkblk/bput/form chunk counts, but the session's lapse is
/// written at most once per `activityInterval` (30 s) — a column of the shared
/// database, so with several servers any of them may receive the next chunk.
/// The lapse read with the session tells when the next write is due, so an
/// upload's first chunks after its grant write nothing.
struct UploadActivity: Sendable {
    let panStore: any PanStore
    let userId: Int64
    let sessionId: String
    let idle: Int64
    let interval: Int64
    /// The session's lapse as last read or written.
    private(set) var lapsesAt: Int64

    /// nil for a session that never lapses (`PAN_UPLOAD_IDLE=0`, or opened before migration 0017).
    init?(session: UploadSession, panStore: any PanStore, settings: UploadSettings) {
        guard let lapsesAt = session.lapsesAt, settings.uploadIdle > 0 else { return nil }
        self.panStore = panStore
        userId = session.userId
        sessionId = session.id
        idle = settings.uploadIdle
        interval = settings.activityInterval
        self.lapsesAt = lapsesAt
    }

    /// Bytes arrived now. Cheap unless a write is due; a failed write (a busy
    /// database) is not the upload's failure: the next chunk tries again.
    mutating func bytesArrived(now: Int64 = Millis.now()) async {
        let next = now + idle
        guard next - lapsesAt >= interval else { return }
        guard (try? await panStore.noteUploadActivity(userId: userId, sessionId: sessionId, lapsesAt: next)) != nil else { return }
        lapsesAt = next
    }
}
