import Foundation
import SQLCommon

/// What to do when the target name is taken.
public enum ConflictPolicy: String, Sendable, Codable, CaseIterable {
    case fail, overwrite, rename
    /// Leave the source where it is (move, copy, restore of many: the others
    /// go on). For a rename or an upload, which name one target, that is `fail`.
    case skip
}

/// One issued upload token, waiting for its callback.
public struct UploadSession: Sendable, Equatable, Codable {
    /// `cancelled`: ended by its user (`POST /v1/store/cancel`); `expired`:
    /// past its deadline, or lapsed (no bytes for `PAN_UPLOAD_IDLE`, `lapsesAt`).
    public enum State: String, Sendable, Codable, CaseIterable { case pending, done, failed, expired, cancelled }

    public var id: String
    public var userId: Int64
    public var dirPath: String
    public var name: String
    public var conflict: ConflictPolicy
    public var declaredSize: Int64?
    public var declaredHash: String?
    public var sizeLimit: Int64
    public var bucket: String
    public var objectKey: String
    public var deadline: Int64
    public var state: State
    public var resultNodeId: Int64?
    public var failureCode: String?
    public var failureStatus: Int?
    public var failureMessage: String?
    public var created: Int64
    public var completed: Int64?
    /// When the session lapses unless bytes arrive for it (`UploadSettings.lapse`);
    /// nil for sessions opened before migration 0016 (only the deadline ends them).
    public var lapsesAt: Int64?

    init(row: Row) throws {
        id = try row.string("id")
        userId = try row.int64("user_id")
        dirPath = try row.string("dir_path")
        name = try row.string("name")
        conflict = ConflictPolicy(rawValue: try row.string("conflict")) ?? .fail
        declaredSize = try row.optionalInt64("declared_size")
        declaredHash = try row.optionalString("declared_hash")
        sizeLimit = try row.int64("size_limit")
        bucket = try row.string("bucket")
        objectKey = try row.string("object_key")
        deadline = try row.int64("deadline")
        state = State(rawValue: try row.string("state")) ?? .pending
        resultNodeId = try row.optionalInt64("result_node_id")
        failureCode = try row.optionalString("failure_code")
        failureStatus = try row.optionalInt64("failure_status").map { Int($0) }
        failureMessage = try row.optionalString("failure_message")
        created = try row.int64("created")
        completed = try row.optionalInt64("completed")
        lapsesAt = try row.optionalInt64("lapses_at")
    }
}

public enum UploadSessionRepository {
    public static func create(
        id: String, userId: Int64, dirPath: String, name: String, conflict: ConflictPolicy,
        declaredSize: Int64?, declaredHash: String?, sizeLimit: Int64, bucket: String, objectKey: String,
        deadline: Int64, lapsesAt: Int64? = nil, on db: any DatabaseConnection, now: Int64 = Millis.now()
    ) async throws {
        try await db.run(
            """
            INSERT INTO upload_sessions (id, user_id, dir_path, name, conflict, declared_size, declared_hash,
                                         size_limit, bucket, object_key, deadline, lapses_at, created)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            id, userId, dirPath, name, conflict.rawValue, declaredSize, declaredHash, sizeLimit, bucket, objectKey,
            deadline, lapsesAt, now
        )
        // The user's pending counters: a trigger (migration 0013 / postgres 0008).
    }

    /// A session expired by its late callback no longer counts against its
    /// user's pending uploads (done and failed ones are uncounted by the
    /// trigger of migration 0013; the sweeper's bulk expiry leaves the bound high).
    private static func leftPending(_ session: UploadSession, changed: Int, on db: any DatabaseConnection) async throws {
        guard changed == 1 else { return }
        try await db.run(
            "UPDATE users SET pending_uploads = pending_uploads - 1, pending_bytes = pending_bytes - ? WHERE id = ?",
            session.declaredSize ?? 0, session.userId
        )
    }

    /// By id alone: for operators (`pan session show`), across every user.
    public static func find(id: String, on db: any DatabaseConnection) async throws -> UploadSession? {
        try await db.queryRow("SELECT * FROM upload_sessions WHERE id = ?", id).map(UploadSession.init(row:))
    }

    /// The user's session, locked until the transaction ends on PostgreSQL
    /// (`FOR UPDATE`): another server's sweeper cannot expire it under a
    /// callback that already found it pending (its UPDATE waits, then finds
    /// it done). SQLite's one writer needs nothing more.
    static func lock(id: String, userId: Int64, on db: any DatabaseConnection) async throws -> UploadSession? {
        let lock = db.dialect == .postgres ? " FOR UPDATE" : ""
        return try await db.queryRow("SELECT * FROM upload_sessions WHERE user_id = ? AND id = ?" + lock, userId, id).map(UploadSession.init(row:))
    }

    public static func find(id: String, userId: Int64, on db: any DatabaseConnection) async throws -> UploadSession? {
        try await db.queryRow("SELECT * FROM upload_sessions WHERE user_id = ? AND id = ?", userId, id).map(UploadSession.init(row:))
    }

    /// Sessions change state only from `pending`, once: `session` was read
    /// pending with `lock` in this transaction, so nothing has ended it since
    /// (another server's sweeper waits for the row).
    ///
    /// By primary key alone: with `AND state = 'pending'` PostgreSQL's generic
    /// plan, made while the table was small, scanned every pending session of
    /// the partition through the state index (1.8 ms a callback with 24k
    /// pending, pg_stat_statements).
    ///
    /// An `expired` session is completed too: one that lapsed (no bytes for
    /// `PAN_UPLOAD_IDLE`) but whose callback came before its deadline's grace
    /// ran out (`CallbackService`) — its bytes are stored, its reservation gone.
    public static func markDone(_ session: UploadSession, nodeId: Int64, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws {
        guard session.state == .pending || session.state == .expired else { throw PanError.sessionExpired }
        let changed = try await db.run(
            "UPDATE upload_sessions SET state = 'done', result_node_id = ?, completed = ? WHERE user_id = ? AND id = ?",
            nodeId, now, session.userId, session.id
        )
        guard changed == 1 else { throw PanError.sessionNotFound }
    }

    /// A callback that came after the deadline and its grace.
    public static func markExpired(_ session: UploadSession, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws {
        let changed = try await db.run(
            "UPDATE upload_sessions SET state = 'expired', completed = ? WHERE user_id = ? AND id = ? AND state = 'pending'",
            now, session.userId, session.id
        )
        try await leftPending(session, changed: changed, on: db)
    }

    public static func markFailed(_ session: UploadSession, error: PanError, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws {
        try await db.run(
            """
            UPDATE upload_sessions SET state = 'failed', failure_code = ?, failure_status = ?, failure_message = ?, completed = ?
            WHERE user_id = ? AND id = ? AND state IN ('pending', 'expired')
            """,
            error.code, error.statusCode, error.message, now, session.userId, session.id
        )
    }

    /// Its user ended it (`POST /v1/store/cancel`). `session` was read with
    /// `lock` in this transaction, pending or lapsed: a callback or an `mkfile`
    /// completing it waits for the row, then finds it cancelled. Leaving
    /// `pending` uncounts it from the user's pending counters (trigger, migration 0017).
    public static func markCancelled(_ session: UploadSession, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws {
        try await db.run(
            "UPDATE upload_sessions SET state = 'cancelled', completed = ? WHERE user_id = ? AND id = ?",
            now, session.userId, session.id
        )
    }

    /// Bytes arrived for a pending session: it lapses `lapsesAt` now, not
    /// earlier. Only ever forward, so servers touching one session at once
    /// cannot move it back; a session no longer pending is left alone.
    public static func pushLapse(userId: Int64, id: String, to lapsesAt: Int64, on db: any DatabaseConnection) async throws {
        try await db.run(
            "UPDATE upload_sessions SET lapses_at = ? WHERE user_id = ? AND id = ? AND state = 'pending' AND lapses_at < ?",
            lapsesAt, userId, id, lapsesAt
        )
    }

    /// A user's live pending sessions (deadline not passed) and the bytes they
    /// declared: what counts against the quota while uploads are in flight.
    /// `count` is exact when it reaches `cap`, and `reservedBytes` always is.
    ///
    /// The user's counters (`users.pending_uploads`/`pending_bytes`) bound both
    /// from above, in O(1): a session counts from `create` until it leaves
    /// `pending` here, and the sweeper's bulk expiry leaves them high. Under the
    /// cap with nothing reserved — every client that declares no size — the
    /// bound decides alone. Otherwise the sessions are counted (O(pending),
    /// bounded by the cap) and the counters set to every pending session of the
    /// user (swept ones drop out; still a bound, as sessions past their
    /// deadline but not yet swept stay in them).
    /// Call it in the user's write transaction (the counters are written).
    /// `user`: the row as this transaction read it (its counters current).
    public static func pendingLoad(user: User, now: Int64, cap: Int64, on db: any DatabaseConnection) async throws -> (count: Int64, reservedBytes: Int64) {
        let userId = user.id
        let (count, bytes) = (user.pendingUploads, user.pendingBytes)
        // A negative count can only come from sessions opened by a server without
        // the counters (a rolling upgrade): never trusted, recounted below.
        if count >= 0, count < cap, bytes == 0 { return (count, 0) }
        let row = try await db.queryRow(
            """
            SELECT COUNT(*) AS pending, COALESCE(SUM(declared_size), 0) AS pending_bytes,
                   COALESCE(SUM(CASE WHEN deadline >= ? THEN 1 ELSE 0 END), 0) AS live,
                   COALESCE(SUM(CASE WHEN deadline >= ? THEN declared_size ELSE 0 END), 0) AS reserved
            FROM upload_sessions WHERE user_id = ? AND state = 'pending'
            """,
            now, now, userId
        )
        let pending = try row?.int64("pending") ?? 0, pendingBytes = try row?.int64("pending_bytes") ?? 0
        if pending != count || pendingBytes != bytes {
            try await db.run("UPDATE users SET pending_uploads = ?, pending_bytes = ? WHERE id = ?", pending, pendingBytes, userId)
        }
        return (try row?.int64("live") ?? 0, try row?.int64("reserved") ?? 0)
    }

    /// Marks pending sessions expired whose deadline (plus grace) has passed,
    /// or that lapsed (`lapses_at`: no bytes for `PAN_UPLOAD_IDLE`); returns their ids.
    @discardableResult
    public static func expire(before cutoff: Int64, on db: any DatabaseConnection, now: Int64 = Millis.now()) async throws -> [String] {
        try await db.query(
            "UPDATE upload_sessions SET state = 'expired', completed = ? WHERE state = 'pending' AND (deadline < ? OR lapses_at < ?) RETURNING id",
            now, cutoff, now
        ).map { try $0.string("id") }
    }

    public static func list(state: UploadSession.State?, limit: Int, on db: any DatabaseConnection) async throws -> [UploadSession] {
        if let state {
            return try await db.query(
                "SELECT * FROM upload_sessions WHERE state = ? ORDER BY created DESC LIMIT ?", state.rawValue, limit
            ).map(UploadSession.init(row:))
        }
        return try await db.query("SELECT * FROM upload_sessions ORDER BY created DESC LIMIT ?", limit).map(UploadSession.init(row:))
    }

    public static func countByState(on db: any DatabaseConnection) async throws -> [String: Int64] {
        var counts: [String: Int64] = [:]
        for row in try await db.query("SELECT state, COUNT(*) AS n FROM upload_sessions GROUP BY state") {
            counts[try row.string("state")] = try row.int64("n")
        }
        return counts
    }
}

extension UploadSession {
    /// The refusal a failed session answered with, replayed to retries.
    public var recordedFailure: PanError? {
        guard state == .failed, let failureCode else { return nil }
        return PanError(status: failureStatus ?? 409, code: failureCode, failureMessage ?? failureCode)
    }
}
