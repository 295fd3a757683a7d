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
    0x0000000000000000,
    0x3C9B3B4F1A88BF6E,
    0xBC7160139CD8DC5D,
    0xBC905E7A108766D1,
    0x3C8CD2523567F613,
    0xBC8BCE8023F98EFA,
    0x3C60F74E61E6C861,
    0x3C90A3E45B33D399,
    0x3C979AA65D837B6D,
    0x3C8EB51A92FDEFFC,
    0x3C3EBE3D702F9CD1,
    0xBC6A033489906E0B,
    0xBC9556522A2FBD0E,
    0xBC5080EF8C4EEA55,
    0xBC91C923B9D5F416,
    0x3C80D3E3E95C55AF,
    0xBC801B15EAA59348,
    0xBC8F1FF055DE323D,
    0x3C8B898C3F1353BF,
    0xBC96D99C7611EB26,
    0x3C9AECF73E3A2F60,
    0xBC8FE782CB86389D,
    0x3C8A6F4144A6C38D,
    0x3C807A05B0E4047D,
    0x3C968EFDE3A8A894,
    0x3C875E18F274487D,
    0x3C80472B981FE7F2,
    0xBC96B87B3F71085E,
    0x3C82F7E16D09AB31,
    0xBC3D219B1A6FBFFA,
    0x3C8B3782720C0AB4,
    0x3C6E149289CECB8F,
    0x3C834D754DB0ABB6,
    0x3C864201E2AC744C,
    0x3C8FDD395DD3F84A,
    0xBC86A3803B8E5B04,
    0xBC924AEDCC4B5068,
    0xBC9907F81B512D8E,
    0xBC71D1E83E9436D2,
    0xBC991919B3CE1B15,
    0x3C859F48A72A4C6D,
    0xBC9312607A28698A,
    0xBC58A78F4817895B,
    0xBC7C2C9B67499A1B,
    0x3C4363ED60C2AC11,
    0x3C9666093B0664EF,
    0x3C6ECCE1DAA10379,
    0x3C93FF8E3F0F1230,
    0x3C7690CEBB7AAFB0,
    0x3C931DBDEB54E077,
    0xBC8F94340071A38E,
    0xBC87DECCDC93A349,
    0xBC78DEC6BD0F385F,
    0xBC861246EC7B5CF6,
    0x3C93350518FDD78E,
    0x3C7B98B72F8A9B05,
    0x3C9063E1E21C5409,
    0x3C34C7855019C6EA,
    0x3C9432E62B64C035,
    0xBC8CE44A6199769F,
    0xBC8C33C53BEF4DA8,
    0xBC845378892BE9AE,
    0xBC93CEDD78565858,
    0x3C5710AA807E1964,
    0xBC93B3EFBF5E2228,
    0xBC6A12AD8734B982,
    0xBC6367EFB86DA9EE,
    0xBC80DC3D54E08851,
    0xBC781F647E5A3ECF,
    0xBC86EE4AC08B7DB0,
    0xBC8619321E55E68A,
    0x3C909CCB5E09D4D3,
    0xBC7B32DCB94DA51D,
    0x3C94ECFD5467C06B,
    0x3C65EBE1ABD66C55,
    0xBC88A1C52FB3CF42,
    0xBC9369B6F13B3734,
    0xBC805E843A19FF1E,
    0xBC94D450D872576E,
    0x3C90AD675B0E8A00,
    0x3C8DB72FC1F0EAB4,
    0xBC65B6609CC5E7FF,
    0x3C7BF68359F35F44,
    0xBC93091FA71E3D83,
    0xBC5DA9B88B6C1E29,
    0xBC6C23F97C90B959,
    0xBC92434322F4F9AA,
    0xBC85CA6CD7668E4B,
    0x3C71AFFC2B91CE27,
    0x3C6DD235E10A73BB,
    0xBC87C50422622263,
    0x3C8B1C86E3E231D5,
    0xBC91BBD1D3BCBB15,
    0x3C90CC319CEE31D2,
    0x3C8469846E735AB3,
    0xBC82DFCD978E9DB4,
    0x3C8C1A7792CB3387,
    0xBC907B8F4AD1D9FA,
    0xBC55C3D956DCAEBA,
    0xBC90A40E3DA6F640,
    0xBC68D6F438AD9334,
    0xBC91EEE26B588A35,
    0x3C74FFD70A5FDDCD,
    0xBC91BDFBFA9298AC,
    0x3C736EAE30AF0CB3,
    0x3C8EE3325C9FFD94,
    0x3C84E08FD10959AC,
    0x3C63CDAF384E1A67,
    0x3C676B2C6C921968,
    0xBC808A1883CCB5D2,
    0xBC8FAD5D3FFFFA6F,
    0xBC900DAE3875A949,
    0x3C74A385A63D07A7,
    0xBC82919E2040220F,
    0x3C8E5A50D5C192AC,
    0x3C843A59AC016B4B,
    0xBC82D52107B43E1F,
    0xBC892AB93B470DC9,
    0x3C74B604603A88D3,
    0x3C83C5EC519D7271,
    0xBC8FF7128FD391F0,
    0xBC8DAE98E223747D,
    0x3C8EC3BC41AA2008,
    0x3C842B94C3A9EB32,
    0x3C8A64A931D185EE,
    0xBC8E37BAE43BE3ED,
    0x3C77893B4D91CD9D,
    0x3C5305C14160CC89,
)
_SBITS = (
    0x3FF0000000000000,
    0x3FEFF63DA9FB3335,
    0x3FEFEC9A3E778061,
    0x3FEFE315E86E7F85,
    0x3FEFD9B0D3158574,
    0x3FEFD06B29DDF6DE,
    0x3FEFC74518759BC8,
    0x3FEFBE3ECAC6F383,
    0x3FEFB5586CF9890F,
    0x3FEFAC922B7247F7,
    0x3FEFA3EC32D3D1A2,
    0x3FEF9B66AFFED31B,
    0x3FEF9301D0125B51,
    0x3FEF8ABDC06C31CC,
    0x3FEF829AAEA92DE0,
    0x3FEF7A98C8A58E51,
    0x3FEF72B83C7D517B,
    0x3FEF6AF9388C8DEA,
    0x3FEF635BEB6FCB75,
    0x3FEF5BE084045CD4,
    0x3FEF54873168B9AA,
    0x3FEF4D5022FCD91D,
    0x3FEF463B88628CD6,
    0x3FEF3F49917DDC96,
    0x3FEF387A6E756238,
    0x3FEF31CE4FB2A63F,
    0x3FEF2B4565E27CDD,
    0x3FEF24DFE1F56381,
    0x3FEF1E9DF51FDEE1,
    0x3FEF187FD0DAD990,
    0x3FEF1285A6E4030B,
    0x3FEF0CAFA93E2F56,
    0x3FEF06FE0A31B715,
    0x3FEF0170FC4CD831,
    0x3FEEFC08B26416FF,
    0x3FEEF6C55F929FF1,
    0x3FEEF1A7373AA9CB,
    0x3FEEECAE6D05D866,
    0x3FEEE7DB34E59FF7,
    0x3FEEE32DC313A8E5,
    0x3FEEDEA64C123422,
    0x3FEEDA4504AC801C,
    0x3FEED60A21F72E2A,
    0x3FEED1F5D950A897,
    0x3FEECE086061892D,
    0x3FEECA41ED1D0057,
    0x3FEEC6A2B5C13CD0,
    0x3FEEC32AF0D7D3DE,
    0x3FEEBFDAD5362A27,
    0x3FEEBCB299FDDD0D,
    0x3FEEB9B2769D2CA7,
    0x3FEEB6DAA2CF6642,
    0x3FEEB42B569D4F82,
    0x3FEEB1A4CA5D920F,
    0x3FEEAF4736B527DA,
    0x3FEEAD12D497C7FD,
    0x3FEEAB07DD485429,
    0x3FEEA9268A5946B7,
    0x3FEEA76F15AD2148,
    0x3FEEA5E1B976DC09,
    0x3FEEA47EB03A5585,
    0x3FEEA34634CCC320,
    0x3FEEA23882552225,
    0x3FEEA155D44CA973,
    0x3FEEA09E667F3BCD,
    0x3FEEA012750BDABF,
    0x3FEE9FB23C651A2F,
    0x3FEE9F7DF9519484,
    0x3FEE9F75E8EC5F74,
    0x3FEE9F9A48A58174,
    0x3FEE9FEB564267C9,
    0x3FEEA0694FDE5D3F,
    0x3FEEA11473EB0187,
    0x3FEEA1ED0130C132,
    0x3FEEA2F336CF4E62,
    0x3FEEA427543E1A12,
    0x3FEEA589994CCE13,
    0x3FEEA71A4623C7AD,
    0x3FEEA8D99B4492ED,
    0x3FEEAAC7D98A6699,
    0x3FEEACE5422AA0DB,
    0x3FEEAF3216B5448C,
    0x3FEEB1AE99157736,
    0x3FEEB45B0B91FFC6,
    0x3FEEB737B0CDC5E5,
    0x3FEEBA44CBC8520F,
    0x3FEEBD829FDE4E50,
    0x3FEEC0F170CA07BA,
    0x3FEEC49182A3F090,
    0x3FEEC86319E32323,
    0x3FEECC667B5DE565,
    0x3FEED09BEC4A2D33,
    0x3FEED503B23E255D,
    0x3FEED99E1330B358,
    0x3FEEDE6B5579FDBF,
    0x3FEEE36BBFD3F37A,
    0x3FEEE89F995AD3AD,
    0x3FEEEE07298DB666,
    0x3FEEF3A2B84F15FB,
    0x3FEEF9728DE5593A,
    0x3FEEFF76F2FB5E47,
    0x3FEF05B030A1064A,
    0x3FEF0C1E904BC1D2,
    0x3FEF12C25BD71E09,
    0x3FEF199BDD85529C,
    0x3FEF20AB5FFFD07A,
    0x3FEF27F12E57D14B,
    0x3FEF2F6D9406E7B5,
    0x3FEF3720DCEF9069,
    0x3FEF3F0B555DC3FA,
    0x3FEF472D4A07897C,
    0x3FEF4F87080D89F2,
    0x3FEF5818DCFBA487,
    0x3FEF60E316C98398,
    0x3FEF69E603DB3285,
    0x3FEF7321F301B460,
    0x3FEF7C97337B9B5F,
    0x3FEF864614F5A129,
    0x3FEF902EE78B3FF6,
    0x3FEF9A51FBC74C83,
    0x3FEFA4AFA2A490DA,
    0x3FEFAF482D8E67F1,
    0x3FEFBA1BEE615A27,
    0x3FEFC52B376BBA97,
    0x3FEFD0765B6E4540,
    0x3FEFDBFDAD9CBE14,
    0x3FEFE7C1819E90D8,
    0x3FEFF3C22B8F71F1,
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
