import Foundation
import Testing

/// Python and the real clients' packages, pinned. Installed with `--no-deps`
/// because the SDK's own requirements pin versions too old for Python 3.11.
/// The browser tests' WebDriver client is a second list in its own folder
/// (`.build/python-browser`), so either list can change without the other
/// being reinstalled.
enum PythonClients {
    static let packages = [
        "wcs-python3-sdk==5.0.36", "requests==2.32.3", "urllib3==2.2.3", "idna==3.10", "charset-normalizer==3.4.0",
        "certifi==2024.8.30", "requests-toolbelt==1.0.0", "pyyaml==6.0.2", "crcmod==1.7", "lockfile==0.12.2",
    ]

    /// Selenium and what it imports (its trio/BiDi extras are not used).
    static let browserPackages = [
        "selenium==4.27.1", "websocket-client==1.8.0", "typing_extensions==4.12.2", "urllib3==2.2.3", "certifi==2024.8.30",
    ]

    static var packageRoot: URL {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
            directory = directory.deletingLastPathComponent()
        }
        return directory
    }

    static var sitePackages: String { packageRoot.appendingPathComponent(".build/python-clients").path }
    static var browserSitePackages: String { packageRoot.appendingPathComponent(".build/python-browser").path }

    /// Installs once per test process (a static let is initialised once, thread-safely).
    static let installed = install(packages, into: sitePackages)
    static let browserInstalled = install(browserPackages, into: browserSitePackages)

    static func install(_ packages: [String], into target: String) -> Result<Void, TestFailure> {
        let marker = target + "/.pan-installed", wanted = packages.joined(separator: "\n")
        if (try? String(contentsOfFile: marker, encoding: .utf8)) == wanted { return .success(()) }
        let pip: ChildProcess
        do {
            pip = try ChildProcess("/usr/bin/env", ["python3", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                                    "--no-deps", "--upgrade", "--target", target] + packages,
                                   stdout: .inherit, stderr: .inherit)
        } catch { return .failure(TestFailure("python3 -m pip: \(error)")) }
        pip.waitUntilExit()
        guard pip.exitedNormally, pip.terminationStatus == 0 else {
            return .failure(TestFailure("pip install \(packages) failed: is PyPI reachable?"))
        }
        FileManager.default.createFile(atPath: marker, contents: Data(wanted.utf8))
        return .success(())
    }

    /// Runs `Tests/PanTests/Clients/SCRIPT ARGS…`; output goes to files so a chatty run cannot block on a pipe.
    /// `browser`: with the WebDriver client's packages instead of the SDK's.
    static func run(_ script: String, _ arguments: [String], timeout: TimeInterval, browser: Bool = false) async throws -> CLITests.Run {
        guard browser else { return try await runNow(script, arguments, timeout: timeout, browser: false) }
        // One headless Chromium at a time: each takes most of a core, and with five
        // browser suites at once the latency-bound suites beside them (slow-request
        // drips, readiness, outages) missed their bounds on a 2-core machine.
        await BrowserSlot.shared.acquire()
        do {
            let run = try await runNow(script, arguments, timeout: timeout, browser: true)
            await BrowserSlot.shared.release()
            return run
        } catch {
            await BrowserSlot.shared.release()
            throw error
        }
    }

    private static func runNow(_ script: String, _ arguments: [String], timeout: TimeInterval, browser: Bool) async throws -> CLITests.Run {
        // pip runs for seconds (a minute on a fresh clone): off the cooperative pool.
        try await offCooperativePool { try (browser ? browserInstalled : installed).get() }
        let scratch = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let outPath = scratch + "/stdout", errPath = scratch + "/stderr"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = browser ? browserSitePackages : sitePackages
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        let run = try await ChildProcess.run(
            "/usr/bin/env", ["python3", packageRoot.appendingPathComponent("Tests/PanTests/Clients/" + script).path] + arguments,
            environment: environment, stdout: .file(outPath), stderr: .file(errPath), timeout: timeout
        )
        if run.timedOut { Issue.record("\(script) did not finish within \(timeout) s") }
        return CLITests.Run(
            status: run.status,
            exited: run.exited,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }
}

/// The one browser run the tests allow at a time (`PythonClients.run(browser:)`), in arrival order.
actor BrowserSlot {
    static let shared = BrowserSlot()
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}
