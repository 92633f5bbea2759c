// `import Kiln` also brings the public compute types: `Device`, `RandomGenerator`, thread control.
@_exported import KilnCompute
