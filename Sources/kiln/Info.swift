import ArgumentParser
import Kiln
import KilnCUDA
import KilnModels

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show versions, the OpenBLAS build and threads, CUDA (driver, devices, libraries) and this machine's sgemm speed.")

    @OptionGroup var compute: ComputeOptions

    @Flag(help: "Skip the sgemm measurement.")
    var quick = false

    func run() throws {
        setThreadCount(compute.threads)
        print("Kiln \(kilnVersion)")
        #if swift(>=6.3)
        print("Swift: 6.3 or later")
        #else
        print("Swift: 6.x")
        #endif
        print("CPUs online: \(Machine.cpuCount)")
        print("OpenBLAS: \(openBLASConfig())")
        print("OpenBLAS core: \(openBLASCoreName()), threads: \(openBLASThreadCount())"
              + (openBLASThreadCount() == 1 ? " (Kiln splits matrix products across its own threads)" : ""))
        print("Kiln threads: \(threadCount())")
        print(cudaSection(CUDA.status))
        if !quick {
            let peak = Machine.measureSGEMMPeak()
            print("sgemm 2048³: \(formatNumber(peak, digits: 1)) GFLOP/s on \(threadCount()) thread(s)")
        }
    }
}
