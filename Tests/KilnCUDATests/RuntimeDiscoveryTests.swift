#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import KilnCUDA

/// Library discovery: search order, the reasons recorded for each place that failed, and the
/// status message when the driver is missing.
final class RuntimeDiscoveryTests: XCTestCase {
    private var folders: [String] = []

    override func tearDown() {
        for folder in folders { _ = try? FileManager.default.removeItem(atPath: folder) }
        folders = []
    }

    private func temporaryFolder() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/kiln-cuda-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        let path = String(cString: made)
        folders.append(path)
        return path
    }

    private func write(_ text: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// A real shared library this process can load again under another name (a copy of libm, found
    /// in /proc/self/maps).
    private func loadableLibrary() throws -> String {
        // NOTE: /proc files report size 0, so read them line by line rather than by size.
        guard let file = fopen("/proc/self/maps", "r") else { throw XCTSkip("no /proc/self/maps") }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let path = text.split(separator: " ").last, path.hasPrefix("/"), path.contains("/libm.so") {
                return String(path)
            }
        }
        throw XCTSkip("libm is not mapped into this process")
    }

    /// What dlopen says about `path` (the expected failure text).
    private func dlopenError(_ path: String) -> String? {
        if let handle = dlopen(path, RTLD_NOW) { dlclose(handle); return nil }
        return String(cString: dlerror())
    }

    private func systemLoaderFinds(_ soname: String) -> Bool {
        guard let handle = dlopen(soname, RTLD_NOW | RTLD_NOLOAD) ?? dlopen(soname, RTLD_LAZY) else { return false }
        dlclose(handle)
        return true
    }

    func testUserFolderIsTriedFirstAndItsDlopenErrorIsReported() throws {
        let fake = try temporaryFolder(), empty = try temporaryFolder()
        try write("not an ELF file\n", to: fake + "/libcuda.so.1")
        let expected = try XCTUnwrap(dlopenError(fake + "/libcuda.so.1"))

        let report = LibraryFinder(environment: ["KILN_CUDA_LIBRARY_PATH": empty + ":" + fake]).load(.driver)

        XCTAssertGreaterThanOrEqual(report.attempts.count, 2)
        XCTAssertEqual(report.attempts[0], LibraryAttempt(source: "KILN_CUDA_LIBRARY_PATH",
                                                          path: empty + "/libcuda.so.1", failure: "no such file"))
        XCTAssertEqual(report.attempts[1], LibraryAttempt(source: "KILN_CUDA_LIBRARY_PATH",
                                                          path: fake + "/libcuda.so.1", failure: expected))
        if report.found {
            XCTAssertEqual(report.source, "system loader")  // a machine with a driver
        } else {
            XCTAssertEqual(report.attempts[2].source, "system loader")
            XCTAssertEqual(report.attempts[2].path, "libcuda.so.1")
            XCTAssertTrue(report.summary.contains(fake + "/libcuda.so.1: " + expected), report.summary)
        }
    }

    func testStatusWithoutDriverSaysWhereItLooked() throws {
        if systemLoaderFinds("libcuda.so.1") { throw XCTSkip("this machine has a CUDA driver") }
        let fake = try temporaryFolder()
        try write("junk", to: fake + "/libcuda.so.1")
        let expected = try XCTUnwrap(dlopenError(fake + "/libcuda.so.1"))

        let status = CUDAStatus.probe(environment: ["KILN_CUDA_LIBRARY_PATH": fake])

        XCTAssertFalse(status.isAvailable)
        XCTAssertNil(status.driverVersion)
        XCTAssertTrue(status.devices.isEmpty)
        XCTAssertTrue(try XCTUnwrap(status.problem).contains("the CUDA driver (libcuda.so.1) was not found"))
        let text = status.description
        XCTAssertTrue(text.hasPrefix("not available: "), text)
        XCTAssertTrue(text.contains("KILN_CUDA_LIBRARY_PATH: \(fake)/libcuda.so.1: \(expected)"), text)
        XCTAssertTrue(text.contains("system loader: libcuda.so.1: "), text)
        // Each of cuBLAS and NVRTC is reported, found or not.
        for name in ["cuBLAS: ", "NVRTC: "] { XCTAssertTrue(text.contains(name), text) }
    }

    func testSitePackagesFolderIsSearchedAfterTheSystemLoader() throws {
        // File names nothing else loads: a real CUDA library may already be in this process, and
        // then the system loader finds it by soname.
        let names = ["libkiln-test-absent.so.13", "libkiln-test-absent.so.12"]
        let site = try temporaryFolder()
        let library = site + "/nvidia/fakecublas/lib/" + names[1]
        try FileManager.default.createDirectory(atPath: site + "/nvidia/fakecublas/lib", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try loadableLibrary(), toPath: library)
        let expected = names.map { dlopenError($0) ?? "(loads here)" }

        let report = LibraryFinder(environment: ["KILN_PYTHON_SITE_PACKAGES": site]).load(.cublasLt, sonames: names)

        XCTAssertEqual(report.path, library)
        XCTAssertEqual(report.source, "site-packages")
        XCTAssertEqual(report.scannedSitePackages.first, site)
        XCTAssertEqual(report.attempts, zip(names, expected).map {
            LibraryAttempt(source: "system loader", path: $0, failure: $1)
        })
    }

    func testNewerSonamesThanTheDriverAreSkipped() throws {
        let folder = try temporaryFolder()
        let library = try loadableLibrary()
        for name in ["libnvrtc.so.13", "libnvrtc.so.12"] {
            try FileManager.default.copyItem(atPath: library, toPath: folder + "/" + name)
        }
        let env = ["KILN_CUDA_LIBRARY_PATH": folder]
        XCTAssertEqual(LibraryFinder(environment: env).load(.nvrtc).path, folder + "/libnvrtc.so.13")
        XCTAssertEqual(LibraryFinder(environment: env, maximumMajor: 12).load(.nvrtc).path, folder + "/libnvrtc.so.12")
        XCTAssertNil(CUDALibrary.cudaMajor(ofSoname: "libcuda.so.1"))
        XCTAssertEqual(CUDALibrary.cudaMajor(ofSoname: "libcublas.so.13"), 13)
    }

    func testSitePackagesFoldersInSearchOrder() throws {
        let root = try temporaryFolder()
        let explicit = root + "/explicit"
        let venv = root + "/venv/lib/python3.11/site-packages"
        let user = root + "/home/.local/lib/python3.12/site-packages"
        let pyenv = root + "/home/.pyenv/versions/3.10.4/lib/python3.10/site-packages"
        let onPath = root + "/tool/lib/python3.9/dist-packages"
        for folder in [explicit, venv, user, pyenv, onPath, root + "/tool/bin"] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try write("#!/bin/sh\n", to: root + "/tool/bin/python3")
        chmod(root + "/tool/bin/python3", 0o755)

        let folders = LibraryFinder(environment: [
            "KILN_PYTHON_SITE_PACKAGES": explicit + ":" + root + "/missing",
            "VIRTUAL_ENV": root + "/venv",
            "PATH": root + "/tool/bin",
            "HOME": root + "/home",
        ]).sitePackagesFolders()

        let ours = folders.filter { $0.hasPrefix(root) }
        XCTAssertEqual(ours, [explicit, venv, onPath, user, pyenv])
        XCTAssertEqual(Set(folders).count, folders.count, "no folder twice")
    }
}
