// GCC's -fsanitize-coverage=trace-cmp also traces floating-point comparisons,
// through two callbacks libFuzzer (LLVM's) does not define. libFuzzer learns nothing
// from them, so they do nothing; without them session_fuzz does not link.
extern "C" {
void __sanitizer_cov_trace_cmpf(float, float) {}
void __sanitizer_cov_trace_cmpd(double, double) {}
}
