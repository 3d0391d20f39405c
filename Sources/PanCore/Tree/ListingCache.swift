import SQLCommon
import Synchronization

/// What pages of a big directory learned about it, kept while its children
/// don't change: the number of children, and where every `stride`-th child
/// sits in a given order (its sort key), so a page far into the directory
/// starts from the nearest such child with a keyset condition instead of
/// skipping thousands of index entries with OFFSET.
///
/// Why this is safe to share between requests: every entry is stamped with
/// the directory's listing version, which triggers bump in the same
/// transaction as any change to its children's set or order (migration
/// 0009; PostgreSQL 0004), whoever writes (this server, another server on
/// the same PostgreSQL, the CLI). A read uses an entry only when the version
/// it reads in its own snapshot is the entry's: the children it sees are then
/// exactly those the entry was built from. Directories without a version
/// (never paged while big) are listed without the cache.
///
/// Bounded: at most `capacity` directory-orders, each with `total / stride`
/// sort keys.
public final class ListingCache: Sendable {
    /// Keys are taken every `stride` children: a page then skips fewer than `stride`.
    static let stride = 32
    /// Below this many children a COUNT and an OFFSET are cheap: no version
    /// is kept for the directory, and no keys.
    static let keysetThreshold: Int64 = 256

    struct Key: Hashable {
        let userId: Int64
        let directoryId: Int64
        /// With the id: a purged directory's id may be given again (SQLite
        /// reuses the highest rowid), and its new version count starts over.
        let directoryUUID: String
        let order: Int
        /// Whether names sort naturally or by their bytes (`Order.byNameBytes`):
        /// two orders of the same code, whose learnt keys differ.
        let naturalNames: Bool
        /// The type filter and hidden names: a different set of children.
        let filter: String
    }

    struct Entry {
        let version: Int64
        let total: Int64
        /// The sort key of child 0, `stride`, 2·`stride`…; nil until pages of
        /// this version have walked enough entries to pay for learning them.
        var boundaries: [[DatabaseValue]]?
        /// Index entries skipped with OFFSET by this version's pages so far.
        var walked: Int64 = 0
        /// The learnt keys were too big to keep: this version is not learnt again.
        var keysRefused = false

        /// What the kept keys cost in memory, roughly: their text and a value's size each.
        var bytes: Int {
            boundaries?.reduce(0) { sum, key in
                key.reduce(sum + 16) { sum, value in
                    switch value {
                    case .text(let text): sum + 24 + text.utf8.count
                    case .blob(let data): sum + 24 + data.count
                    default: sum + 24
                    }
                }
            } ?? 0
        }
    }

    /// Learning the keys (a `ROW_NUMBER()` window over all children, ~1 µs an
    /// entry in SQLite) costs about what 16 OFFSET walks of the whole
    /// directory cost (~60 ns an entry). So the keys are learnt once this
    /// version's pages have walked that much: a directory that changes
    /// between pages pays at most about twice what OFFSET alone costs, and a
    /// stable one gets O(1) pages after ~32 random ones. Only entries really
    /// skipped count (a page past the end walks none). Tests lower it.
    let learnAfterWalks = Atomic<Int>(16)

    func worthLearning(_ entry: Entry, walk: Int64) -> Bool {
        let (needed, overflow) = entry.total.multipliedReportingOverflow(by: Int64(learnAfterWalks.load(ordering: .relaxed)))
        return !overflow && Self.saturatingSum(entry.walked, walk) >= needed
    }

    static func saturatingSum(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? .max : sum
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// What the kept keys of all entries cost, against `keyBudget`.
        var bytes = 0

        mutating func remove(_ key: Key) {
            bytes -= entries.removeValue(forKey: key)?.bytes ?? 0
        }
    }

    private let capacity: Int
    /// Bounds the memory a user can make the server hold by paging huge
    /// directories in every order: bytes of kept keys over all entries.
    private let keyBudget: Int
    private let state = Mutex(State())

    public init(capacity: Int = 256, keyBudget: Int = 32 << 20) {
        self.capacity = capacity
        self.keyBudget = keyBudget
    }

    /// Whether a directory this big may get sort keys at all: one
    /// directory-order may take a quarter of the budget, and a key costs at
    /// least ~64 bytes (4M children with the default budget). A bigger one is
    /// paged with OFFSET, as before the cache; so is one whose learnt keys
    /// turn out bigger than the quarter (long names): `keysRefused`.
    func keepsKeys(forTotal total: Int64) -> Bool {
        total > Self.keysetThreshold && total / Int64(Self.stride) * 64 <= Int64(keyBudget / 4)
    }

    /// The entry for `key` if it was made at `version`.
    func entry(_ key: Key, version: Int64) -> Entry? {
        state.withLock { state in
            guard let entry = state.entries[key], entry.version == version else { return nil }
            return entry
        }
    }

    /// How many directory-orders have sort keys kept (tests; a gauge one day).
    var pagedDirectories: Int { state.withLock { $0.entries.values.count { $0.boundaries != nil } } }

    /// Bytes of sort keys kept in all (tests).
    var keptBytes: Int { state.withLock { $0.bytes } }

    /// Stores `entry` and returns what is kept: an older snapshot never
    /// replaces a newer entry, keys already learnt for the same version are
    /// kept, and keys too big for a quarter of the budget are dropped.
    @discardableResult
    func store(_ entry: Entry, for key: Key) -> Entry {
        state.withLock { state in
            var entry = entry
            if let current = state.entries[key] {
                if current.version > entry.version { return entry }
                if current.version == entry.version {
                    entry.walked = max(entry.walked, current.walked)
                    entry.keysRefused = entry.keysRefused || current.keysRefused
                    if entry.boundaries == nil { entry.boundaries = current.boundaries }
                }
            }
            if entry.bytes > keyBudget / 4 {
                entry.boundaries = nil
                entry.keysRefused = true
            }
            state.remove(key)
            let adding = entry.bytes
            // Any victims will do: a miss costs one COUNT, and an entry is only
            // worth keeping while its directory is being paged.
            while let victim = state.entries.keys.first,
                  state.entries.count >= capacity || state.bytes + adding > keyBudget {
                state.remove(victim)
            }
            state.entries[key] = entry
            state.bytes += adding
            return entry
        }
    }
}
