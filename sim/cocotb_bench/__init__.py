"""cocotb test benches for the emitted Verilog (run them with :func:`sim.runner.run_cocotb`).

The modules in this package are cocotb test modules: they are imported by the simulator
process, not by pytest, and read their parameters from environment variables
(:data:`~sim.cocotb_bench.lut_core_tb.CFG_ENV`, :data:`~sim.cocotb_bench.lut_core_tb.SEED_ENV`).
"""
