import Foundation
import Synchronization
@testable import SQLiteKit

/// A fresh directory under the system temp dir, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("sqlitekit-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("sqlitekit-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try await body(url)
}

/// A database file path in a fresh temp directory.
func withTemporaryDatabase<T>(_ body: (String) throws -> T) throws -> T {
    try withTemporaryDirectory { dir in try body(dir.appendingPathComponent("test.sqlite").path) }
}

func withTemporaryDatabase<T>(_ body: (String) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { dir in try await body(dir.appendingPathComponent("test.sqlite").path) }
}

/// A thread-safe flag shared between a test and work running on a pool's queues.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }

    /// Blocks the calling thread (a pool queue, never the cooperative pool) until set.
    func blockingWait(timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !isSet {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.002)
        }
        return true
    }

    /// Waits from async code without blocking a cooperative thread.
    func wait(timeout: TimeInterval = 10) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !isSet {
            if Date() > deadline { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }
}

/// A thread-safe counter.
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}

extension Connection {
    func count(_ table: String) throws -> Int64 {
        try scalar("SELECT COUNT(*) FROM \(table)") ?? -1
    }
}
