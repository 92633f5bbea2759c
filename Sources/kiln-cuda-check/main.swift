// kiln-cuda-check: runs every CUDA backend check against the CPU backend and prints one PASS/FAIL
// line per comparison, then a summary. Exit status: 0 when all pass, 1 on a failure, 2 when CUDA
// cannot be used here (the reason is printed).
//
//     kiln-cuda-check [--filter GROUP] [--list]
#if canImport(Glibc)
import Glibc
#endif
import KilnCUDACheck

var filter: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--list":
        for group in CUDAChecks.groups { print(group.name) }
        exit(0)
    case "--filter":
        guard let value = arguments.popFirst() else {
            print("kiln-cuda-check: --filter needs a group name (see --list)")
            exit(2)
        }
        filter = value
    default:
        print("kiln-cuda-check: unknown argument '\(argument)'; usage: kiln-cuda-check [--filter GROUP] [--list]")
        exit(2)
    }
}

let (backend, reason) = CUDAChecks.backend()
guard let backend else {
    print("kiln-cuda-check: CUDA is not available: \(reason)")
    exit(2)
}
let results = CUDAChecks.run(backend, filter: filter) { result in
    print(result.line)
    fflush(nil)  // every line at once, even into a pipe
}
let failures = results.filter { !$0.passed }
print("\(results.count - failures.count) of \(results.count) checks passed")
for failure in failures { print("  \(failure.line)") }
exit(failures.isEmpty ? 0 : 1)
