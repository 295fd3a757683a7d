"""docs/img/export-elephant.png: Elephant's statistics of a lifbatch store, through ``lifbatch.to_neo``.

    python scripts/export_figure.py [--store results/quickstart.zarr] [--out docs/img/export-elephant.png]

Runs workflows/quickstart.yaml into the store first when it does not exist. Needs the
`export` extra (Neo, Elephant) and matplotlib (not a lifbatch dependency: pip install matplotlib).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=str(ROOT / "results" / "quickstart.zarr"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "img" / "export-elephant.png"))
    args = parser.parse_args()

    import elephant.kernels
    import elephant.statistics as es
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import quantities as pq

    import lifbatch

    warnings.filterwarnings("ignore", message="The 'copy' argument in Quantity is deprecated")
    if not Path(args.store).exists():
        lifbatch.run_sweep(lifbatch.load_workflow(ROOT / "workflows" / "quickstart.yaml"), args.store, progress=False)
    ds = lifbatch.open_results(args.store)
    warmup = lifbatch.to_neo(ds, sigma="4 mV", I="200 pA").annotations["warmup"]
    T = float(ds.attrs["duration"]) * pq.s

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)

    # (a) one point: its trials' spikes and Elephant's instantaneous rate
    block = lifbatch.to_neo(ds, sigma="4 mV", I="200 pA")
    trains = [seg.spiketrains[0] for seg in block.segments]
    ax = axes[0]
    for k, st in enumerate(trains):
        ax.vlines(st.rescale("ms").magnitude, k + 0.6, k + 1.4, color="k", lw=0.6)
    rate = es.instantaneous_rate(trains, sampling_period=1 * pq.ms, kernel=elephant.kernels.GaussianKernel(10 * pq.ms))
    mean = rate.magnitude.mean(axis=1)
    twin = ax.twinx()
    twin.plot(rate.times.rescale("ms").magnitude, mean, color="tab:red", lw=1.5)
    twin.axhline(float(ds.rate.sel(sigma=0.004, I=2e-10)), color="tab:red", ls="--", lw=1)
    twin.set_ylabel("instantaneous rate (Hz), Elephant", color="tab:red")
    ax.axvspan(0, float(warmup.rescale("ms")), color="0.9")
    ax.set(
        xlabel="time (ms)",
        ylabel="trial",
        title="sigma = 4 mV, I = 200 pA: 20 trials (grey: warmup)",
        xlim=(0, float(T.rescale("ms"))),
    )

    # (b) ISI variability along the sweep: lifbatch's stored isi_cv and Elephant's CV, Lv, CV2
    # (c) Fano factor: from lifbatch's rate and rate_std (ddof=1) and Elephant's (ddof=0)
    colors = {0.001: "tab:blue", 0.004: "tab:orange", 0.008: "tab:green"}
    for sigma, color in colors.items():
        currents = ds.I.values * 1e12
        cv_e, lv_e, cv2_e, ff_e = [], [], [], []
        for group in lifbatch.to_neo(ds, sigma=sigma).groups:
            after = [st[st.magnitude > float(warmup)] for st in group.spiketrains]
            isis = [es.isi(st).magnitude for st in after]
            pooled = np.concatenate(isis)
            cv_e.append(es.cv(pooled, ddof=1) if len(pooled) > 1 else np.nan)
            lv_e.append(np.mean([es.lv(i) for i in isis if len(i) > 2]) if any(len(i) > 2 for i in isis) else np.nan)
            cv2_e.append(np.mean([es.cv2(i) for i in isis if len(i) > 2]) if any(len(i) > 2 for i in isis) else np.nan)
            ff_e.append(es.fanofactor(after) if sum(map(len, after)) else np.nan)
        here = ds.sel(sigma=sigma)
        label = f"sigma = {sigma * 1e3:g} mV"
        axes[1].plot(currents, here.isi_cv, color=color, lw=2, alpha=0.5, label=f"{label}: isi_cv (store)")
        axes[1].plot(currents, cv_e, "o", color=color, ms=3, label="CV (Elephant, ddof=1)")
        axes[1].plot(currents, lv_e, "--", color=color, lw=1, label="Lv (Elephant)")
        axes[1].plot(currents, cv2_e, ":", color=color, lw=1.5, label="CV2 (Elephant)")
        window = float(T) - float(warmup)
        with np.errstate(invalid="ignore", divide="ignore"):
            ff = here.rate_std.values**2 * window / here.rate.values
        n = ds.sizes["trial"]
        axes[2].plot(currents, ff, color=color, lw=2, alpha=0.5, label=f"{label}: rate_std² (T-w) / rate")
        axes[2].plot(
            currents, np.asarray(ff_e) * n / (n - 1), "o", color=color, ms=3, label="Elephant fanofactor x n/(n-1)"
        )
    axes[1].set(xlabel="I (pA)", ylabel="ISI irregularity", title="ISI CV, Lv, CV2 after the warmup", ylim=(0, 1.6))
    axes[1].legend(fontsize=7, ncol=2)
    axes[2].set(
        xlabel="I (pA)", ylabel="Fano factor of spike counts", title="Fano factor after the warmup", ylim=(0, 1.6)
    )
    axes[2].legend(fontsize=7)
    fig.suptitle(
        f"Elephant {__import__('elephant').__version__} on lifbatch.to_neo of {Path(args.store).name} "
        "(workflows/quickstart.yaml)"
    )
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
