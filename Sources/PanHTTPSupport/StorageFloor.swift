import PanCore

/// Free space the data directory keeps in reserve. An upload started below
/// the floor is refused before any byte is written, so a nearly full disk
/// fails the new upload with a clear 507 — not a half-written object, a
/// SQLite write failing midway, or the WAL checkpoint that frees space
/// itself having no room. `/readyz` reports not-ready below it, so a load
/// balancer moves traffic away.
package struct StorageFloor: Sendable {
    package let path: String
    package let minimumFreeBytes: Int64

    package init(path: String, minimumFreeBytes: Int64) {
        self.path = path
        self.minimumFreeBytes = minimumFreeBytes
    }

    package var freeBytes: Int64? { DiskSpace.freeBytes(at: path) }

    /// True when free space is known and at or above the floor (an unreadable
    /// figure does not block: the write itself will tell).
    package var hasRoom: Bool {
        guard minimumFreeBytes > 0, let free = freeBytes else { return true }
        return free >= minimumFreeBytes
    }

    package func check() throws(PanError) {
        if !hasRoom { throw PanError.storageFull }
    }
}
