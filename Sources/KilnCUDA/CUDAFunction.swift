#if canImport(Glibc)
import Glibc
#endif

/// One kernel argument, passed by value as the kernel's C parameter of the same type.
package enum KernelArgument {
    /// A device address (`float*`, `int*`, …).
    case pointer(UInt64)
    case int32(Int32)
    case int64(Int64)
    case float(Float)
}

/// A kernel of a loaded module, launched on its context's stream.
package struct CUDAFunction: @unchecked Sendable {
    package let name: String
    let handle: OpaquePointer
    let context: CUDAContext

    /// Launches the kernel with `arguments` in the order of its C parameters. Each argument is
    /// written to its own 8-byte slot and `cuLaunchKernel` gets the array of slot addresses (its
    /// `void** kernelParams`). Launch errors stop with the kernel's name and the driver's message;
    /// with `KILN_CUDA_SYNC=1` every launch is also waited for, so faults name their kernel.
    package func launch(grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                        _ arguments: [KernelArgument]) {
        precondition(grid.0 > 0 && grid.1 > 0 && grid.2 > 0 && block.0 > 0 && block.1 > 0 && block.2 > 0,
                     "\(name): empty launch grid \(grid) block \(block)")
        let driver = context.driver
        driver.makeCurrent(context.handle)
        let n = arguments.count
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(n, 1)) { slots in
            withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: max(n, 1)) { params in
                for (i, argument) in arguments.enumerated() {
                    let slot = UnsafeMutableRawPointer(slots.baseAddress! + i)
                    switch argument {
                    case .pointer(let v): slot.storeBytes(of: v, as: UInt64.self)
                    case .int32(let v): slot.storeBytes(of: v, as: Int32.self)
                    case .int64(let v): slot.storeBytes(of: v, as: Int64.self)
                    case .float(let v): slot.storeBytes(of: v, as: Float.self)
                    }
                    params[i] = slot
                }
                let code = driver.launchKernel(
                    handle, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                    UInt32(block.0), UInt32(block.1), UInt32(block.2), UInt32(sharedBytes),
                    context.stream, params.baseAddress, nil)
                driver.require(code, "cuLaunchKernel(\(name), grid \(grid), block \(block), shared \(sharedBytes))")
            }
        }
        if context.synchronousLaunches {
            driver.require(driver.synchronizeResult(context.stream), "kernel \(name) (grid \(grid), block \(block))")
        }
    }
}
