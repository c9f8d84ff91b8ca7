// Batch evaluation of a Verilated combinational FPFusedAdd (ports a, o), called via ctypes.
#include <cstddef>
#include <cstdint>

#include "Vfp_unit.h"
#include "verilated.h"

namespace {
VerilatedContext* context = nullptr;
Vfp_unit* top = nullptr;
}  // namespace

extern "C" void eval_range(uint64_t start, size_t n, uint32_t* o) {
    if (top == nullptr) {
        context = new VerilatedContext;
        top = new Vfp_unit{context};
    }
    for (size_t i = 0; i < n; ++i) {
        top->a = start + i;
        top->eval();
        o[i] = static_cast<uint32_t>(top->o);
    }
}
