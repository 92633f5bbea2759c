// OpenBLAS's C interface: cblas_* and openblas_{set,get}_num_threads, openblas_get_corename.
#include <cblas.h>
