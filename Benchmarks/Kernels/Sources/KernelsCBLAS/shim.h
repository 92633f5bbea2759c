// OpenBLAS's C interface, for the raw sgemm baseline.
#include <cblas.h>
