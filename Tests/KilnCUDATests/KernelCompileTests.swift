import XCTest
@testable import KilnCUDA

/// Every kernel source compiles to PTX with NVRTC (no GPU needed) and defines the entry points the
/// backend launches. Skipped, with the search report, when no NVRTC library is found (CI installs
/// the `nvidia-cuda-nvrtc-cu12` wheel, so it runs there).
final class KernelCompileTests: XCTestCase {
    private func nvrtc() throws -> NVRTC {
        let report = LibraryFinder(environment: processEnvironment()).load(.nvrtc)
        guard report.found, let path = report.path else {
            print("KernelCompileTests skipped: \(report.summary)")
            throw XCTSkip("NVRTC not found: \(report.summary)")
        }
        return try NVRTC(path: path)
    }

    /// The `.entry` names of a PTX module.
    private func entries(_ ptx: String) -> Set<String> {
        var names = Set<String>()
        for line in ptx.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "(" })
            if let i = words.firstIndex(of: ".entry"), i + 1 < words.count { names.insert(String(words[i + 1])) }
        }
        return names
    }

    func testEveryKernelSourceCompilesForHopper() throws {
        let compiler = try nvrtc()
        for kernel in KernelSources.all {
            let ptx = try compiler.compile(kernel.source, name: kernel.name, architecture: "compute_90")
            XCTAssertTrue(ptx.contains(".target sm_90"), "\(kernel.name): PTX not for sm_90")
            let defined = entries(ptx)
            for entry in kernel.entries {
                XCTAssertTrue(defined.contains(entry), "\(kernel.name): PTX lacks .entry \(entry) (has \(defined.sorted()))")
            }
            XCTAssertEqual(defined.count, kernel.entries.count, "\(kernel.name): entries \(defined.sorted()) not all listed")
        }
    }

    func testEveryKernelSourceCompilesToHopperCode() throws {
        // What the backend loads: a CUBIN (ELF) for the device's exact architecture.
        let compiler = try nvrtc()
        for kernel in KernelSources.all {
            let image = try compiler.compileBinary(kernel.source, name: kernel.name, architecture: "sm_90")
            XCTAssertEqual(Array(image.prefix(4)), [0x7F, 0x45, 0x4C, 0x46], "\(kernel.name): CUBIN is not an ELF image")
            for entry in kernel.entries {
                XCTAssertNotNil(image.firstRange(of: Array(entry.utf8)), "\(kernel.name): CUBIN lacks \(entry)")
            }
        }
    }

    func testEntryNamesAreUniqueAcrossSources() {
        // The backend caches functions by entry name.
        let names = KernelSources.all.flatMap(\.entries)
        XCTAssertEqual(Set(names).count, names.count, "duplicate kernel names in \(names)")
    }

    func testCompileErrorsNameTheKernelAndCarryTheLog() throws {
        let compiler = try nvrtc()
        let broken = KernelPrelude.source + "extern \"C\" __global__ void kiln_broken(float* p) { p[0] = undefined_name; }\n"
        XCTAssertThrowsError(try compiler.compile(broken, name: "broken-source")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("broken-source"), text)
            XCTAssertTrue(text.contains("undefined_name"), text)
        }
    }

    func testCompilationsAreCachedBySourceAndOptions() throws {
        let compiler = try nvrtc()
        let source = KernelSources.all[0]
        let first = try compiler.compile(source.source, name: source.name, architecture: "compute_90")
        let again = try compiler.compile(source.source, name: source.name, architecture: "compute_90")
        XCTAssertEqual(first, again)
        let older = try compiler.compile(source.source, name: source.name, architecture: "compute_80")
        XCTAssertTrue(older.contains(".target sm_80"), "a different architecture must compile again")
    }
}
