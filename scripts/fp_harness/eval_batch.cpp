// Batch evaluation of a Verilated combinational binary FP unit (ports a, b, o), called from Python via ctypes.
// Built by scripts/verify_fp_exhaustive.py together with the Verilator output of the top module `fp_unit`.
#include <cstddef>
#include <cstdint>

#include "Vfp_unit.h"
#include "verilated.h"

namespace {
VerilatedContext* context = nullptr;
Vfp_unit* top = nullptr;
}  // namespace

extern "C" void eval_batch(const uint16_t* a, const uint16_t* b, uint16_t* o, size_t n) {
    if (top == nullptr) {
        context = new VerilatedContext;
        top = new Vfp_unit{context};
    }
    for (size_t i = 0; i < n; ++i) {
        top->a = a[i];
        top->b = b[i];
        top->eval();
        o[i] = static_cast<uint16_t>(top->o);
    }
}
