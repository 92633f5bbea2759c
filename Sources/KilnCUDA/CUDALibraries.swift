#if canImport(Glibc)
import Glibc
#endif

/// A CUDA library Kiln loads at run time, with the file names (sonames) it may have, newest first.
package enum CUDALibrary: String, CaseIterable, Sendable {
    case driver, cublasLt, cublas, nvrtc

    /// The sonames to look for, newest major version first.
    package var sonames: [String] {
        switch self {
        case .driver: ["libcuda.so.1"]
        case .cublasLt: ["libcublasLt.so.13", "libcublasLt.so.12"]
        case .cublas: ["libcublas.so.13", "libcublas.so.12"]
        case .nvrtc: ["libnvrtc.so.13", "libnvrtc.so.12"]
        }
    }

    /// The CUDA major version of a soname (`libnvrtc.so.12` → 12); nil for the driver.
    package static func cudaMajor(ofSoname name: String) -> Int? {
        guard !name.hasPrefix("libcuda.") , let last = name.split(separator: ".").last else { return nil }
        return Int(last)
    }

    /// How the library is named in messages.
    package var displayName: String {
        switch self {
        case .driver: "CUDA driver"
        case .cublasLt: "cuBLASLt"
        case .cublas: "cuBLAS"
        case .nvrtc: "NVRTC"
        }
    }
}

/// One place a library was looked for, and what happened there.
package struct LibraryAttempt: Sendable, Equatable {
    /// Where: `KILN_CUDA_LIBRARY_PATH`, `system loader` or `site-packages`.
    package var source: String
    /// The file or soname given to `dlopen`.
    package var path: String
    /// Why it was not used (dlopen's error, or "no such file").
    package var failure: String
}

/// The outcome of the search for one library: the loaded file, and every place that failed before.
package struct LibraryReport: Sendable {
    package var library: CUDALibrary
    /// What `dlopen` was given when it succeeded (a path, or a soname the system loader resolved).
    package var path: String?
    package var source: String?
    package var attempts: [LibraryAttempt]
    /// Folders of Python site-packages that were scanned for `nvidia/*/lib`.
    package var scannedSitePackages: [String]
    /// The open handle (never closed: the library stays loaded for the process).
    nonisolated(unsafe) package var handle: UnsafeMutableRawPointer?

    package var found: Bool { handle != nil }

    /// One line: where it was found, or why not.
    package var summary: String {
        if let path, let source { return "\(library.displayName): \(path) (\(source))" }
        var lines = ["\(library.displayName): not found (\(library.sonames.joined(separator: ", ")))"]
        for a in attempts { lines.append("    \(a.source): \(a.path): \(a.failure)") }
        lines.append(scannedSitePackages.isEmpty
            ? "    site-packages: no Python site-packages folder found"
            : "    site-packages: no nvidia/*/lib folder holds it in \(scannedSitePackages.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}

/// Finds and loads the CUDA libraries. Order, for each soname (newest first):
/// 1. every folder of `KILN_CUDA_LIBRARY_PATH` (colon-separated);
/// 2. the system loader (`dlopen` of the bare soname: `LD_LIBRARY_PATH`, ldconfig's cache, …);
/// 3. the `nvidia/*/lib` folders of every Python site-packages folder found (where PyTorch's wheels
///    put cuBLAS and NVRTC), see `sitePackagesFolders`.
package struct LibraryFinder {
    package var environment: [String: String]
    /// The driver's CUDA major version, when known: newer sonames than the driver runs are skipped
    /// (cuBLAS 13 and PTX from NVRTC 13 need a CUDA 13 driver).
    package var maximumMajor: Int?

    package init(environment: [String: String], maximumMajor: Int? = nil) {
        self.environment = environment
        self.maximumMajor = maximumMajor
    }

    /// Searches for `library` and loads the first file that `dlopen` accepts.
    package func load(_ library: CUDALibrary) -> LibraryReport { load(library, sonames: library.sonames) }

    /// The search for `library` under the file names `candidates` (tests use names nothing else loads).
    package func load(_ library: CUDALibrary, sonames candidates: [String]) -> LibraryReport {
        var report = LibraryReport(library: library, attempts: [], scannedSitePackages: [])
        let sonames = candidates.filter { name in
            guard let max = maximumMajor, let major = CUDALibrary.cudaMajor(ofSoname: name) else { return true }
            return major <= max
        }
        func attempt(_ source: String, _ path: String, mustExist: Bool) -> Bool {
            if mustExist && access(path, F_OK) != 0 {
                report.attempts.append(LibraryAttempt(source: source, path: path, failure: "no such file"))
                return false
            }
            if let dir = mustExist ? parentFolder(path) : nil { preloadCompanions(of: library, in: dir) }
            switch openLibrary(path) {
            case .success(let handle):
                report.handle = handle
                report.path = path
                report.source = source
                return true
            case .failure(let message):
                report.attempts.append(LibraryAttempt(source: source, path: path, failure: message.text))
                return false
            }
        }
        let userFolders = (environment["KILN_CUDA_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init)
        for soname in sonames {
            for folder in userFolders where attempt("KILN_CUDA_LIBRARY_PATH", folder + "/" + soname, mustExist: true) {
                return report
            }
        }
        for soname in sonames where attempt("system loader", soname, mustExist: false) { return report }
        let sites = sitePackagesFolders()
        report.scannedSitePackages = sites
        for soname in sonames {
            for site in sites {
                for folder in globPaths(site + "/nvidia/*/lib") {
                    let path = folder + "/" + soname
                    if access(path, F_OK) == 0, attempt("site-packages", path, mustExist: true) { return report }
                }
            }
        }
        return report
    }

    /// Libraries a library needs from its own folder, loaded first with `RTLD_GLOBAL`: cuBLAS needs
    /// cuBLASLt, and NVRTC 13 opens its builtins library by soname at compile time.
    private func preloadCompanions(of library: CUDALibrary, in folder: String) {
        let patterns: [String] = switch library {
        case .cublas: [folder + "/libcublasLt.so.*"]
        case .nvrtc: [folder + "/libnvrtc-builtins.so.*"]
        case .driver, .cublasLt: []
        }
        for pattern in patterns {
            for path in globPaths(pattern) { _ = dlopen(path, RTLD_NOW | RTLD_GLOBAL) }
        }
    }

    /// Python site-packages (and dist-packages) folders that exist, in search order:
    /// `KILN_PYTHON_SITE_PACKAGES` (colon-separated), the active virtual or conda environment, the
    /// prefix of every `python3` on `PATH`, the user's `~/.local`, pyenv versions, /opt/conda and the
    /// system's /usr/local/lib and /usr/lib. Found by globbing, without running Python (which takes
    /// ~50 ms even for `import site`).
    package func sitePackagesFolders() -> [String] {
        var prefixes: [String] = []
        for key in ["VIRTUAL_ENV", "CONDA_PREFIX"] { if let p = environment[key], !p.isEmpty { prefixes.append(p) } }
        for dir in (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where access(dir + "/python3", X_OK) == 0 {
            if let prefix = parentFolder(dir) { prefixes.append(prefix) }
        }
        if let home = environment["HOME"], !home.isEmpty {
            prefixes.append(home + "/.local")
            prefixes.append(contentsOf: globPaths((environment["PYENV_ROOT"] ?? home + "/.pyenv") + "/versions/*"))
        }
        prefixes += ["/opt/conda", "/usr/local", "/usr"]
        var folders = (environment["KILN_PYTHON_SITE_PACKAGES"] ?? "").split(separator: ":").map(String.init)
            .filter { isFolder($0) }
        for prefix in prefixes.map({ $0 == "/" ? "" : $0 }) {
            for kind in ["site-packages", "dist-packages"] {
                folders += globPaths(prefix + "/lib/python3*/" + kind)
            }
            folders += globPaths(prefix + "/lib/python3/dist-packages")
        }
        // The same folder may be reached twice (/lib → /usr/lib, a venv's lib64 link): keep the first.
        var seen = Set<String>()
        return folders.filter { seen.insert(canonicalPath($0)).inserted }
    }
}

/// `dlopen`'s error text as an `Error`.
package struct DLError: Error { package var text: String }

/// Opens a library (`RTLD_NOW | RTLD_GLOBAL`, so libraries that need it find its symbols).
package func openLibrary(_ path: String) -> Result<UnsafeMutableRawPointer, DLError> {
    if let handle = dlopen(path, RTLD_NOW | RTLD_GLOBAL) { return .success(handle) }
    return .failure(DLError(text: dlerror().map { String(cString: $0) } ?? "unknown dlopen error"))
}

/// The paths matching a shell pattern, sorted; empty when none.
package func globPaths(_ pattern: String) -> [String] {
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(pattern, 0, nil, &g) == 0 else { return [] }
    return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }.sorted()
}

func isFolder(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
}

/// `path` with links and `.`/`..` resolved, or `path` itself when that fails.
func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

func parentFolder(_ path: String) -> String? {
    guard let slash = path.lastIndex(of: "/") else { return nil }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// The process environment as a dictionary (without Foundation).
package func processEnvironment() -> [String: String] {
    var result: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let text = String(cString: entry)
        if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
        p += 1
    }
    return result
}
