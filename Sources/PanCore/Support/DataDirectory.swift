import Foundation

/// The data directory holds password hashes, session and key secrets and
/// every user's bytes: only Pan's own user may read it (issue #14 item 10).
/// New directories are 0700 and new files 0600; an existing directory keeps
/// the mode its admin gave it.
public enum DataDirectory {
    public static func create(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
    }

    /// Creates `path` empty with mode 0600 unless it exists.
    public static func createPrivateFile(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd >= 0 { close(fd); return }
        guard errno == EEXIST else { throw IOError("create", path: path) }
    }
}
