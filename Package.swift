// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "pan",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "pan", targets: ["pan"]),
        .executable(name: "pan-bench", targets: ["PanBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // sqlite3 from the system (Debian: libsqlite3-dev).
        .systemLibrary(
            name: "CSQLite",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // zlib from the system (Debian: zlib1g-dev), for its CRC-32: several GB/s where a
        // byte-at-a-time Swift loop managed a fraction of that (zip downloads checksum every byte).
        .systemLibrary(
            name: "CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // libvips from the system (Debian: libvips-dev), for image previews' renditions
        // (PanHTTPSupport/Downloads/Thumbnails.swift): shrink-on-load JPEG decoding and
        // streaming pipelines make a 24-megapixel photo's thumbnail in tens of
        // milliseconds and a few tens of MB (BENCHMARKS.md).
        .systemLibrary(
            name: "CVips",
            pkgConfig: "vips",
            providers: [.apt(["libvips-dev"])]
        ),
        // What Pan's SQL needs of any engine: rows, values, a connection inside a transaction, classified errors.
        .target(name: "SQLCommon"),
        // Our thin SQLite wrapper: connections, statements, transactions, pool, migrations.
        .target(
            name: "SQLiteKit",
            dependencies: ["CSQLite", "SQLCommon", .product(name: "Logging", package: "swift-log")]
        ),
        // Small string helpers every layer uses (trimming without Foundation's bridging).
        .target(name: "TextSupport"),
        // Wangsu Cloud Storage wire formats: content hash, upload token, callbacks.
        .target(
            name: "WCS",
            dependencies: ["TextSupport", "CZlib", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // The domain: users, the file tree, store objects, upload sessions; the
        // PanStore seam and its SQL implementation, written once over SQLCommon.
        .target(
            name: "PanCore",
            dependencies: [
                "SQLCommon", "WCS", "TextSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The embedded engine: SQLite through SQLiteKit, migrations/*.sql.
        .target(
            name: "PanSQLite",
            dependencies: ["PanCore", "SQLiteKit"],
            plugins: ["EmbedMigrations"]
        ),
        // Build-time tool: turns the top-level migrations/*.sql into Swift source,
        // refusing a misnamed or duplicate-numbered file by SQLCommon's own rule.
        .executableTarget(name: "MigrationEmbedder", dependencies: ["SQLCommon"]),
        .plugin(
            name: "EmbedMigrations",
            capability: .buildTool(),
            dependencies: ["MigrationEmbedder"]
        ),
        // Build-time tool: turns the top-level web/ folder (the web app) into Swift source.
        .executableTarget(name: "WebAppEmbedder"),
        .plugin(
            name: "EmbedWebApp",
            capability: .buildTool(),
            dependencies: ["WebAppEmbedder"]
        ),
        // The shared-database engine: PostgreSQL through postgres-nio, migrations/postgres/*.sql.
        .target(
            name: "PanPostgres",
            dependencies: [
                "PanCore", "SQLCommon",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // What every HTTP face shares: the request context, envelope and errors,
        // middleware, the HTTP/1 channel and its limits, client addresses, the
        // storage floor, authentication, download links and renditions (docs/architecture.md).
        .target(
            name: "PanHTTPSupport",
            dependencies: [
                "PanCore", "WCS", "TextSupport", "CVips",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                // Already in the graph (Hummingbird's HTTP/1 server): for HTTPParserError → 400.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ]
        ),
        // The local stand-in for WCS (a face): form and slice uploads, callbacks to
        // Pan itself, and the bytes served as WCS would (`/dl/`, `/objects/`).
        .target(
            name: "PanLocalWCS",
            dependencies: [
                "PanHTTPSupport", "PanCore", "WCS", "TextSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The v1 API (a face): users, files, store tokens, WCS callbacks, shares,
        // zip downloads and previews, and the web app — controllers over PanStore, no SQL.
        .target(
            name: "PanAPI",
            dependencies: [
                "PanHTTPSupport", "PanCore", "WCS", "TextSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            plugins: ["EmbedWebApp"]
        ),
        // WebDAV (a face, issue #29): each user's tree at `/dav/`, HTTP Basic over
        // the accounts, bytes in the local object store — controllers over PanStore.
        .target(
            name: "PanWebDAV",
            dependencies: [
                "PanHTTPSupport", "PanCore", "WCS", "TextSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                // Pan's own uploads to an external WCS (WCSSliceUpload).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The composition: the engine (StoreOpening), PanServices, the router with
        // the routes of every face, the application and its background services
        // (operations, sweepers). What `pan serve` and the CLI use.
        .target(
            name: "PanServer",
            dependencies: [
                "PanAPI", "PanLocalWCS", "PanWebDAV", "PanHTTPSupport", "PanCore", "PanSQLite", "PanPostgres", "WCS", "TextSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The `pan` command line: serve, migrate, user, session, hash, store.
        .target(
            name: "PanCLI",
            dependencies: [
                "PanServer", "PanHTTPSupport", "PanCore", "PanSQLite", "PanPostgres", "SQLCommon", "WCS", "TextSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "pan", dependencies: ["PanCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Benchmarks: `swift run -c release pan-bench tree|http` (see BENCHMARKS.md).
        .executableTarget(
            name: "PanBench",
            dependencies: [
                "PanHTTPSupport", "PanCore", "PanSQLite", "PanPostgres", "SQLiteKit", "WCS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SQLiteKitTests", dependencies: ["SQLiteKit", "SQLCommon"]),
        .testTarget(name: "WCSTests", dependencies: ["WCS", "TextSupport"]),
        .testTarget(
            name: "PanTests",
            dependencies: [
                "PanAPI", "PanServer", "PanWebDAV", "PanHTTPSupport", "PanCore", "PanSQLite", "PanPostgres", "PanCLI", "WCS", "TextSupport", "SQLiteKit", "SQLCommon",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
