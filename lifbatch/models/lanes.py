"""What the models' lane loops share: an ``exp`` that vectorizes and equals the C library's bit for
bit, and the random streams' state at the start of every trial.

Lanes. A model's loop advances up to ``LANES`` trials in lockstep, each lane doing exactly the
arithmetic the trial would do alone (no sums across lanes, no ``fastmath``, no contraction into
FMAs but the ones written): LLVM turns the loops over lanes into vector instructions (AVX-512:
8 lanes an instruction; the last few trials of a group take the loop's scalar remainder, the
same operations one at a time), and the CPU overlaps the lanes' steps where a trial alone waits
for its previous step. Every operation is IEEE-rounded the same way in a vector as alone, so a
trial's results do not depend on its lane, on the other lanes or on how many trials there are.
The loops keep a lane's choices as values computed then selected (``a if c else b`` of values
computed beforehand) and are compiled with numpy's error model (a division by 0 gives inf
rather than a test and a branch): branches in a loop keep LLVM from vectorizing it.

``exp``. ``math.exp`` in numba calls the C library's ``exp``, which a loop cannot vectorize.
:func:`exp_lane` is glibc's ``exp`` (2.28 and later: ARM's optimized-routines algorithm, the
build for CPUs with FMA, ``__exp_fma``) written out operation by operation, the same fused
multiply-adds in the same order with the same constants and table, so its result is the same bit
for bit; :func:`exp_special` says where that code takes its rare paths (|x| < 2^-54, |x| >= 512,
inf, nan), which the loops then compute with ``math.exp`` itself. tests/test_models_lanes.py
checks it against ``math.exp`` on millions of arguments, and every model's outputs against
the one-trial-at-a-time loops. (Where the C library's ``exp`` is another, results change in
their last bits from what it gave; they then no longer depend on the C library.)

Streams. The random numbers are drawn trial after trial from one stream per kind (trial 0's
steps, then trial 1's; :mod:`lifbatch.models.loops`); lanes need every trial's state at its
start. :func:`trial_start_states` runs the samplers over every trial once, recording the states
(a Poisson count's draws vary, so it must sample; so do the normals' rejections).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from ..kernel import sfc64_double, sfc64_normal, sfc64_poisson

__all__ = ["LANES", "exp_lane", "exp_special", "fma", "trial_start_states"]

#: trials advanced in lockstep by a model's loop: LLVM's vectorized loops take 16 or 32 lanes at a
#: time (8 doubles an AVX-512 register, unrolled), and a group's per-step overhead is spread over
#: them (64 against 32: 10-25 % less time per neuron-step for adex, hh_traub, izhikevich)
#: (numba's cache keys a compiled loop by its own file's contents; the cache's folder is named by
#: every kernel source, :func:`lifbatch.kernel.numba_cache_dir`, so a change here compiles afresh)
LANES = 64


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (LLVM's ``llvm.fma.f64``: the CPU's FMA instruction)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _bits(typingctx, x):
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _double(typingctx, u):
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


# glibc's __exp_data (sysdeps/ieee754/dbl-64/e_exp_data.c): N = 128, its polynomial and table
_INVLN2N = float.fromhex("0x1.71547652b82fep+7")
_NEGLN2HIN = float.fromhex("-0x1.62e42fefa0000p-8")
_NEGLN2LON = float.fromhex("-0x1.cf79abc9e3b3ap-47")
_C2 = float.fromhex("0x1.ffffffffffdbdp-2")
_C3 = float.fromhex("0x1.555555555543cp-3")
_C4 = float.fromhex("0x1.55555cf172b91p-5")
_C5 = float.fromhex("0x1.1111167a4d017p-7")
_SHIFT = float.fromhex("0x1.8p52")
# tab[2 i] (the tail of 2^(i/N), as bits) and tab[2 i + 1] (the bits of 2^(i/N) minus i << 45)
_TAIL_BITS = (
    0x0000000000000000, 0x3c9b3b4f1a88bf6e, 0xbc7160139cd8dc5d, 0xbc905e7a108766d1, 0x3c8cd2523567f613,
    0xbc8bce8023f98efa, 0x3c60f74e61e6c861, 0x3c90a3e45b33d399, 0x3c979aa65d837b6d, 0x3c8eb51a92fdeffc,
    0x3c3ebe3d702f9cd1, 0xbc6a033489906e0b, 0xbc9556522a2fbd0e, 0xbc5080ef8c4eea55, 0xbc91c923b9d5f416,
    0x3c80d3e3e95c55af, 0xbc801b15eaa59348, 0xbc8f1ff055de323d, 0x3c8b898c3f1353bf, 0xbc96d99c7611eb26,
    0x3c9aecf73e3a2f60, 0xbc8fe782cb86389d, 0x3c8a6f4144a6c38d, 0x3c807a05b0e4047d, 0x3c968efde3a8a894,
    0x3c875e18f274487d, 0x3c80472b981fe7f2, 0xbc96b87b3f71085e, 0x3c82f7e16d09ab31, 0xbc3d219b1a6fbffa,
    0x3c8b3782720c0ab4, 0x3c6e149289cecb8f, 0x3c834d754db0abb6, 0x3c864201e2ac744c, 0x3c8fdd395dd3f84a,
    0xbc86a3803b8e5b04, 0xbc924aedcc4b5068, 0xbc9907f81b512d8e, 0xbc71d1e83e9436d2, 0xbc991919b3ce1b15,
    0x3c859f48a72a4c6d, 0xbc9312607a28698a, 0xbc58a78f4817895b, 0xbc7c2c9b67499a1b, 0x3c4363ed60c2ac11,
    0x3c9666093b0664ef, 0x3c6ecce1daa10379, 0x3c93ff8e3f0f1230, 0x3c7690cebb7aafb0, 0x3c931dbdeb54e077,
    0xbc8f94340071a38e, 0xbc87deccdc93a349, 0xbc78dec6bd0f385f, 0xbc861246ec7b5cf6, 0x3c93350518fdd78e,
    0x3c7b98b72f8a9b05, 0x3c9063e1e21c5409, 0x3c34c7855019c6ea, 0x3c9432e62b64c035, 0xbc8ce44a6199769f,
    0xbc8c33c53bef4da8, 0xbc845378892be9ae, 0xbc93cedd78565858, 0x3c5710aa807e1964, 0xbc93b3efbf5e2228,
    0xbc6a12ad8734b982, 0xbc6367efb86da9ee, 0xbc80dc3d54e08851, 0xbc781f647e5a3ecf, 0xbc86ee4ac08b7db0,
    0xbc8619321e55e68a, 0x3c909ccb5e09d4d3, 0xbc7b32dcb94da51d, 0x3c94ecfd5467c06b, 0x3c65ebe1abd66c55,
    0xbc88a1c52fb3cf42, 0xbc9369b6f13b3734, 0xbc805e843a19ff1e, 0xbc94d450d872576e, 0x3c90ad675b0e8a00,
    0x3c8db72fc1f0eab4, 0xbc65b6609cc5e7ff, 0x3c7bf68359f35f44, 0xbc93091fa71e3d83, 0xbc5da9b88b6c1e29,
    0xbc6c23f97c90b959, 0xbc92434322f4f9aa, 0xbc85ca6cd7668e4b, 0x3c71affc2b91ce27, 0x3c6dd235e10a73bb,
    0xbc87c50422622263, 0x3c8b1c86e3e231d5, 0xbc91bbd1d3bcbb15, 0x3c90cc319cee31d2, 0x3c8469846e735ab3,
    0xbc82dfcd978e9db4, 0x3c8c1a7792cb3387, 0xbc907b8f4ad1d9fa, 0xbc55c3d956dcaeba, 0xbc90a40e3da6f640,
    0xbc68d6f438ad9334, 0xbc91eee26b588a35, 0x3c74ffd70a5fddcd, 0xbc91bdfbfa9298ac, 0x3c736eae30af0cb3,
    0x3c8ee3325c9ffd94, 0x3c84e08fd10959ac, 0x3c63cdaf384e1a67, 0x3c676b2c6c921968, 0xbc808a1883ccb5d2,
    0xbc8fad5d3ffffa6f, 0xbc900dae3875a949, 0x3c74a385a63d07a7, 0xbc82919e2040220f, 0x3c8e5a50d5c192ac,
    0x3c843a59ac016b4b, 0xbc82d52107b43e1f, 0xbc892ab93b470dc9, 0x3c74b604603a88d3, 0x3c83c5ec519d7271,
    0xbc8ff7128fd391f0, 0xbc8dae98e223747d, 0x3c8ec3bc41aa2008, 0x3c842b94c3a9eb32, 0x3c8a64a931d185ee,
    0xbc8e37bae43be3ed, 0x3c77893b4d91cd9d, 0x3c5305c14160cc89,
)
_SBITS = (
    0x3ff0000000000000, 0x3feff63da9fb3335, 0x3fefec9a3e778061, 0x3fefe315e86e7f85, 0x3fefd9b0d3158574,
    0x3fefd06b29ddf6de, 0x3fefc74518759bc8, 0x3fefbe3ecac6f383, 0x3fefb5586cf9890f, 0x3fefac922b7247f7,
    0x3fefa3ec32d3d1a2, 0x3fef9b66affed31b, 0x3fef9301d0125b51, 0x3fef8abdc06c31cc, 0x3fef829aaea92de0,
    0x3fef7a98c8a58e51, 0x3fef72b83c7d517b, 0x3fef6af9388c8dea, 0x3fef635beb6fcb75, 0x3fef5be084045cd4,
    0x3fef54873168b9aa, 0x3fef4d5022fcd91d, 0x3fef463b88628cd6, 0x3fef3f49917ddc96, 0x3fef387a6e756238,
    0x3fef31ce4fb2a63f, 0x3fef2b4565e27cdd, 0x3fef24dfe1f56381, 0x3fef1e9df51fdee1, 0x3fef187fd0dad990,
    0x3fef1285a6e4030b, 0x3fef0cafa93e2f56, 0x3fef06fe0a31b715, 0x3fef0170fc4cd831, 0x3feefc08b26416ff,
    0x3feef6c55f929ff1, 0x3feef1a7373aa9cb, 0x3feeecae6d05d866, 0x3feee7db34e59ff7, 0x3feee32dc313a8e5,
    0x3feedea64c123422, 0x3feeda4504ac801c, 0x3feed60a21f72e2a, 0x3feed1f5d950a897, 0x3feece086061892d,
    0x3feeca41ed1d0057, 0x3feec6a2b5c13cd0, 0x3feec32af0d7d3de, 0x3feebfdad5362a27, 0x3feebcb299fddd0d,
    0x3feeb9b2769d2ca7, 0x3feeb6daa2cf6642, 0x3feeb42b569d4f82, 0x3feeb1a4ca5d920f, 0x3feeaf4736b527da,
    0x3feead12d497c7fd, 0x3feeab07dd485429, 0x3feea9268a5946b7, 0x3feea76f15ad2148, 0x3feea5e1b976dc09,
    0x3feea47eb03a5585, 0x3feea34634ccc320, 0x3feea23882552225, 0x3feea155d44ca973, 0x3feea09e667f3bcd,
    0x3feea012750bdabf, 0x3fee9fb23c651a2f, 0x3fee9f7df9519484, 0x3fee9f75e8ec5f74, 0x3fee9f9a48a58174,
    0x3fee9feb564267c9, 0x3feea0694fde5d3f, 0x3feea11473eb0187, 0x3feea1ed0130c132, 0x3feea2f336cf4e62,
    0x3feea427543e1a12, 0x3feea589994cce13, 0x3feea71a4623c7ad, 0x3feea8d99b4492ed, 0x3feeaac7d98a6699,
    0x3feeace5422aa0db, 0x3feeaf3216b5448c, 0x3feeb1ae99157736, 0x3feeb45b0b91ffc6, 0x3feeb737b0cdc5e5,
    0x3feeba44cbc8520f, 0x3feebd829fde4e50, 0x3feec0f170ca07ba, 0x3feec49182a3f090, 0x3feec86319e32323,
    0x3feecc667b5de565, 0x3feed09bec4a2d33, 0x3feed503b23e255d, 0x3feed99e1330b358, 0x3feede6b5579fdbf,
    0x3feee36bbfd3f37a, 0x3feee89f995ad3ad, 0x3feeee07298db666, 0x3feef3a2b84f15fb, 0x3feef9728de5593a,
    0x3feeff76f2fb5e47, 0x3fef05b030a1064a, 0x3fef0c1e904bc1d2, 0x3fef12c25bd71e09, 0x3fef199bdd85529c,
    0x3fef20ab5fffd07a, 0x3fef27f12e57d14b, 0x3fef2f6d9406e7b5, 0x3fef3720dcef9069, 0x3fef3f0b555dc3fa,
    0x3fef472d4a07897c, 0x3fef4f87080d89f2, 0x3fef5818dcfba487, 0x3fef60e316c98398, 0x3fef69e603db3285,
    0x3fef7321f301b460, 0x3fef7c97337b9b5f, 0x3fef864614f5a129, 0x3fef902ee78b3ff6, 0x3fef9a51fbc74c83,
    0x3fefa4afa2a490da, 0x3fefaf482d8e67f1, 0x3fefba1bee615a27, 0x3fefc52b376bba97, 0x3fefd0765b6e4540,
    0x3fefdbfdad9cbe14, 0x3fefe7c1819e90d8, 0x3feff3c22b8f71f1,
)
_TAIL = np.array(_TAIL_BITS, np.uint64).view(np.float64)
_SBIT = np.array(_SBITS, np.uint64)
_U7F = np.uint64(127)
_U45 = np.uint64(45)
_U52 = np.uint64(52)
_U7FF = np.uint64(0x7FF)
_U3C9 = np.uint64(0x3C9)
_U3F = np.uint64(0x3F)


@numba.njit(cache=True, nogil=True, inline="always")
def exp_lane(x):  # pragma: no cover - compiled
    """glibc's ``exp(x)`` bit for bit where :func:`exp_special` is false (elsewhere: garbage)."""
    kd = fma(x, _INVLN2N, _SHIFT)
    ki = _bits(kd)
    kd = kd - _SHIFT
    r = fma(kd, _NEGLN2HIN, x)
    r = fma(kd, _NEGLN2LON, r)
    i = ki & _U7F
    sbits = _SBIT[i] + (ki << _U45)
    t1 = fma(r, _C3, _C2)
    t0 = r + _TAIL[i]
    r2 = r * r
    t2 = fma(r, _C5, _C4)
    t3 = fma(t1, r2, t0)
    tmp = fma(r2 * r2, t2, t3)
    scale = _double(sbits)
    return fma(scale, tmp, scale)


@numba.njit(cache=True, nogil=True, inline="always")
def exp_special(x):  # pragma: no cover - compiled
    """Whether glibc's ``exp`` leaves :func:`exp_lane`'s path at x: |x| < 2^-54, |x| >= 512, inf, nan."""
    return ((_bits(x) >> _U52) & _U7FF) - _U3C9 >= _U3F


@numba.njit(cache=True, nogil=True)
def trial_start_states(noise_state, uni_state, poi_state, k1, lam, enlam, n_trials, n_steps):  # pragma: no cover
    """(n_trials + 1, 12) uint64: the noise, uniform and Poisson streams' SFC64 states (4 words
    each; 0 where a stream is not used) at the start of every trial and after the last one, the
    draws being those of the loops (per step: one normal, k1 uniforms, one Poisson count per
    ``lam``), trial after trial."""
    out = np.zeros((n_trials + 1, 12), np.uint64)
    fused = noise_state.shape[0] == 4
    k2 = lam.shape[0]
    if fused:
        s0, s1, s2, s3 = noise_state[0], noise_state[1], noise_state[2], noise_state[3]
        for tr in range(n_trials):
            out[tr, 0], out[tr, 1], out[tr, 2], out[tr, 3] = s0, s1, s2, s3
            for s in range(n_steps):
                _z, s0, s1, s2, s3 = sfc64_normal(s0, s1, s2, s3)
        out[n_trials, 0], out[n_trials, 1], out[n_trials, 2], out[n_trials, 3] = s0, s1, s2, s3
    if k1 > 0:
        u0, u1, u2, u3 = uni_state[0], uni_state[1], uni_state[2], uni_state[3]
        for tr in range(n_trials):
            out[tr, 4], out[tr, 5], out[tr, 6], out[tr, 7] = u0, u1, u2, u3
            for s in range(n_steps * k1):
                _u, u0, u1, u2, u3 = sfc64_double(u0, u1, u2, u3)
        out[n_trials, 4], out[n_trials, 5], out[n_trials, 6], out[n_trials, 7] = u0, u1, u2, u3
    if k2 > 0:
        p0, p1, p2, p3 = poi_state[0], poi_state[1], poi_state[2], poi_state[3]
        for tr in range(n_trials):
            out[tr, 8], out[tr, 9], out[tr, 10], out[tr, 11] = p0, p1, p2, p3
            for s in range(n_steps):
                for j in range(k2):
                    _c, p0, p1, p2, p3 = sfc64_poisson(lam[j], enlam[j], p0, p1, p2, p3)
        out[n_trials, 8], out[n_trials, 9], out[n_trials, 10], out[n_trials, 11] = p0, p1, p2, p3
    return out
