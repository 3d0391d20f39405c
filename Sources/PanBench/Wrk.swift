import Foundation

/// Debian's `wrk` as the load generator: a C event loop that costs the server
/// machine far less CPU than an in-process Swift client, so a row's req/s is
/// the server's, not the client's (issue #18 item 1). Each scenario is a Lua
/// script written beside the run; the scripts' `done` prints one machine-read
/// line, `PANBENCH key=value …`.
struct Wrk {
    let executable: String
    let threads: Int
    let connections: Int
    let seconds: Double
    /// Where the scripts are written.
    let directory: String

    /// `wrk` on the PATH, if installed.
    static func find() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/wrk" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    enum Scenario: String {
        /// `GET /healthz`.
        case healthz
        /// `POST /v1/store/token` with a fresh name per request (and `PAN_BENCH_HASH`: an instant upload).
        case token
        /// `POST /v1/files/page` of `/big`, a random page of 20, `PAN_BENCH_ORDER`.
        case page
        /// Signed callbacks read from `PAN_BENCH_CALLBACKS`, each sent once.
        case callback
        /// The same `POST PAN_BENCH_PATH` with body `PAN_BENCH_BODY`, authenticated.
        case post
    }

    struct Result {
        let requests: Int
        /// Non-2xx replies and envelopes that say `success:false`.
        let failed: Int
        /// Connect, read, write errors and timeouts.
        let socketErrors: Int
        /// Callbacks sent a second time because the prepared ones ran out (they are cheap replays: the row is then wrong).
        let replayed: Int
        let seconds: Double
        let p50Millis: Double
        let p99Millis: Double
    }

    /// Runs one scenario against `url` (scheme, host, port); `environment` feeds the script.
    func run(_ scenario: Scenario, url: String, environment: [String: String]) throws -> Result {
        let script = "\(directory)/\(scenario.rawValue).lua"
        try (Self.common + Self.scripts[scenario]!).write(toFile: script, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "-t", String(threads), "-c", String(connections), "-d", "\(Int(seconds.rounded()))s", "--timeout", "10s", "-s", script, url,
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }.merging(["PAN_BENCH_THREADS": String(threads)]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0,
              let line = text.split(separator: "\n").last(where: { $0.hasPrefix("PANBENCH ") }) else {
            throw WrkFailed(output: text)
        }
        var values: [String: Double] = [:]
        for pair in line.dropFirst("PANBENCH ".count).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        func value(_ key: String) -> Double { values[key] ?? 0 }
        return Result(
            requests: Int(value("requests")), failed: Int(value("failed")), socketErrors: Int(value("socket_errors")),
            replayed: Int(value("replayed")), seconds: value("duration_us") / 1e6,
            p50Millis: value("p50_us") / 1000, p99Millis: value("p99_us") / 1000
        )
    }

    struct WrkFailed: Error, CustomStringConvertible {
        let output: String
        var description: String { "wrk failed:\n\(output)" }
    }

    /// Shared by every scenario: thread ids, failure counting, the summary line.
    static let common = #"""
    -- pan-bench: written by Sources/PanBench/Wrk.swift; do not edit the copy.
    local threads = {}
    local started = 0
    function setup(thread)
        started = started + 1
        thread:set("id", started)
        table.insert(threads, thread)
    end

    failed = 0
    replayed = 0
    local captured = nil

    local function env(name, default)
        local value = os.getenv(name)
        if value == nil or value == "" then return default end
        return value
    end

    -- The users (PAN_BENCH_AUTH, comma-separated): each thread takes them in turn, request by
    -- request, from its own, so the load is spread over all of them (a user per thread would
    -- leave all but `threads` users idle, and one user's writes are serialized by design).
    local auths = {}
    for auth in string.gmatch(env("PAN_BENCH_AUTH", ""), "[^,]+") do table.insert(auths, auth) end
    local turn = 0
    local function jsonHeaders()
        local headers = { ["Content-Type"] = "application/json" }
        if #auths > 0 then
            headers["Authorization"] = auths[(id - 1 + turn) % #auths + 1]
            turn = turn + 1
        end
        return headers
    end

    function response(status, headers, body)
        if status < 200 or status >= 300 or (body ~= nil and string.find(body, '"success":false', 1, true)) then
            failed = failed + 1
        elseif captured ~= nil and body ~= nil then
            local token = string.match(body, '"token":"([^"]+)"')
            if token ~= nil then captured:write(token, "\n") end
        end
    end

    function done(summary, latency, requests)
        local failedTotal, replayedTotal = 0, 0
        for _, thread in ipairs(threads) do
            failedTotal = failedTotal + thread:get("failed")
            replayedTotal = replayedTotal + thread:get("replayed")
        end
        local e = summary.errors
        io.write(string.format("PANBENCH requests=%d duration_us=%d p50_us=%d p99_us=%d socket_errors=%d failed=%d replayed=%d\n",
            summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
            e.connect + e.read + e.write + e.timeout, failedTotal, replayedTotal))
    end

    """#

    static let scripts: [Scenario: String] = [
        .healthz: #"""
        function init(args) prepared = wrk.format("GET", "/healthz") end
        function request() return prepared end
        """#,
        .token: #"""
        -- A fresh name per request: tag (the round), thread, counter. With PAN_BENCH_CAPTURE the
        -- grants' tokens are kept (for the callback row), written by wrk, not timed on the server.
        local tag = env("PAN_BENCH_TAG", "t")
        local folder = env("PAN_BENCH_FOLDER", "/bench-tokens")
        local hash = env("PAN_BENCH_HASH", "")
        function init(args)
            n = 0
            headers = jsonHeaders()
            local capture = env("PAN_BENCH_CAPTURE", "")
            if capture ~= "" then
                captured = io.open(capture .. "." .. id, "w")
                captured:setvbuf("line")
            end
        end
        function request()
            n = n + 1
            if #auths > 1 then headers = jsonHeaders() end
            local body
            if hash ~= "" then
                body = string.format('{"name":"%s-%d-%d","path":"%s","hash":"%s"}', tag, id, n, folder, hash)
            else
                body = string.format('{"name":"%s-%d-%d.txt","path":"%s"}', tag, id, n, folder)
            end
            return wrk.format("POST", "/v1/store/token", headers, body)
        end
        """#,
        .post: #"""
        function init(args)
            prepared = {}
            for _ = 1, math.max(1, #auths) do
                table.insert(prepared, wrk.format("POST", env("PAN_BENCH_PATH", "/"), jsonHeaders(), env("PAN_BENCH_BODY", "{}")))
            end
            n = 0
        end
        function request()
            n = n + 1
            return prepared[(n - 1) % #prepared + 1]
        end
        """#,
        .page: #"""
        local order = tonumber(env("PAN_BENCH_ORDER", "2"))
        function init(args)
            headers = jsonHeaders()
            math.randomseed(id)
        end
        function request()
            if #auths > 1 then headers = jsonHeaders() end
            local body = string.format('{"path":"/big","pageSize":20,"page":%d,"orderBy":%d}', math.random(1, 500), order)
            return wrk.format("POST", "/v1/files/page", headers, body)
        end
        """#,
        .callback: #"""
        -- One line per prepared callback: path TAB Authorization TAB form body. Thread i of N takes every N-th.
        function init(args)
            prepared = {}
            local count = tonumber(env("PAN_BENCH_THREADS", "1"))
            local index = 0
            for line in io.lines(env("PAN_BENCH_CALLBACKS", "")) do
                if index % count == id - 1 then
                    local path, authorization, body = string.match(line, "^([^\t]*)\t([^\t]*)\t(.*)$")
                    table.insert(prepared, wrk.format("POST", path,
                        { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = authorization }, body))
                end
                index = index + 1
            end
            n = 0
        end
        function request()
            n = n + 1
            if n > #prepared then
                replayed = replayed + 1
                return prepared[(n - 1) % #prepared + 1]
            end
            return prepared[n]
        end
        """#,
    ]
}
