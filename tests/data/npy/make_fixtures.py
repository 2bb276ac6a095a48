"""Regenerates the .npy fixtures of tests/unit/npy_io_test.cc with numpy (the reference writer).

Run from this directory with the project venv: ../../../.venv/bin/python make_fixtures.py
Every array holds arange(6) reshaped to (2, 3), cast to the dtype, unless noted.
"""
import numpy as np

DTYPES = ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]

for code in DTYPES:
    np.save(f"{code}.npy", np.arange(6).reshape(2, 3).astype("<" + code))
np.save("b1.npy", np.array([[True, False, True], [False, False, True]]))
np.save("scalar_f4.npy", np.array(2.5, dtype="<f4"))
np.save("empty_f4.npy", np.zeros((0, 3), dtype="<f4"))
np.save("neg_i8.npy", np.array([-1, -(2**62), 2**62], dtype="<i8"))
np.save("special_f4.npy", np.array([np.nan, np.inf, -np.inf, -0.0], dtype="<f4"))
with open("v2_f4.npy", "wb") as f:
    np.lib.format.write_array(f, np.arange(6, dtype="<f4").reshape(2, 3), version=(2, 0))
# Rejected by the reader: big-endian and Fortran-order data.
np.save("big_endian_f4.npy", np.arange(6).reshape(2, 3).astype(">f4"))
np.save("fortran_f4.npy", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
