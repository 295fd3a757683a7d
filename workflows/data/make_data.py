"""Make the recorded inputs of the Brian2 TimedArray workflows (deterministic).

python workflows/data/make_data.py
"""

from pathlib import Path

import numpy as np

here = Path(__file__).parent

# brian-recorded.csv: like the tutorial's I_arr: 100 plateaus of 100 samples, U(0, 1), times A = 2.5
rng = np.random.default_rng(2)
num_samples = 2000
i_arr = np.zeros(num_samples)
for _ in range(100):
    a = rng.integers(num_samples)
    i_arr[a : a + 100] = rng.random()
np.savetxt(here / "brian-recorded.csv", 2.5 * i_arr, fmt="%.6f")

# brian-image.csv: the letters "LIF" drawn in a 40 x 120 grid (neuron x 1 ms), times A = 1.5
font = {
    "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
    "I": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "#####"],
    "F": ["#####", "#....", "#....", "####.", "#....", "#....", "#...."],
}
img = np.zeros((40, 120))
for k, ch in enumerate("LIF"):
    for r, row in enumerate(font[ch]):
        for c, px in enumerate(row):
            if px == "#":
                img[35 - 4 * r - 4 : 35 - 4 * r, 10 + 38 * k + 6 * c : 10 + 38 * k + 6 * c + 6] = 1
np.savetxt(here / "brian-image.csv", 1.5 * img.T, fmt="%.3f", delimiter=",")
