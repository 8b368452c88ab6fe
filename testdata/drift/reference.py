#!/usr/bin/env python3
"""Reference values for jobs/drift/stats, computed with scipy (1.17).

Writes, next to this script:
  samples.json   the fixed samples (the Go test loads exactly these numbers)
  expected.json  every statistic computed here with scipy/numpy

Run:  .cache/venv/bin/python testdata/drift/reference.py   (from the repo root)
The Go tests only read the two JSON files; Python is not needed at test time.

Definitions mirror jobs/drift/stats (package documentation):
  - nulls are dropped before every statistic;
  - KS: scipy.stats.ks_2samp(ref, cur) (method='auto', two-sided);
  - W1: scipy.stats.wasserstein_distance; normalised by max(np.std(ref), 0.001);
  - numeric cells: edges e_i = sorted(ref)[max(ceil(n*i/B)-1, 0)] for i=1..B-1
    (DuckDB quantile_disc), de-duplicated; cell = number of edges < x
    (np.searchsorted(edges, x, 'left')); cells empty in both samples dropped;
  - categorical cells: one per distinct value of ref ∪ cur (as strings);
  - PSI = sum((q'-p') ln(q'/p')), p', q' = shares with zeros replaced by 1e-4;
  - KL  = scipy.stats.entropy(p', q');
  - JS  = scipy.spatial.distance.jensenshannon(p, q) (base e, raw shares);
  - Hellinger = ||sqrt(p) - sqrt(q)||_2 / sqrt(2);
  - chi-square = scipy.stats.chisquare(f_obs, f_exp) over the reference
    categories, f_exp = ref_share * n_cur; if cur has values absent from ref,
    their rows form one extra cell and f_exp = [ref_share..., 1e-4]/(1+1e-4)*n_cur;
  - z test: pooled two-proportion, positive value = max of ref ∪ cur,
    p = 2 * scipy.stats.norm.sf(|z|).
"""
import json
import math
import os

import numpy as np
import scipy
from scipy import stats
from scipy.spatial.distance import jensenshannon

HERE = os.path.dirname(os.path.abspath(__file__))
FLOOR = 1e-4
STD_FLOOR = 0.001
BINS = 10


def f(x):
    """JSON-safe float (None for nan)."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    return x


def nonnull(xs):
    return [x for x in xs if x is not None]


def cell_metrics(cr, cc):
    cr = np.asarray(cr, dtype=float)
    cc = np.asarray(cc, dtype=float)
    keep = (cr > 0) | (cc > 0)
    cr, cc = cr[keep], cc[keep]
    p = cr / cr.sum()
    q = cc / cc.sum()
    pf = np.where(p == 0, FLOOR, p)
    qf = np.where(q == 0, FLOOR, q)
    return {
        "psi": float(np.sum((qf - pf) * np.log(qf / pf))),
        "kl": float(stats.entropy(pf, qf)),
        "js": float(jensenshannon(p, q)),
        "hellinger": float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)) / np.sqrt(2)),
    }


def summary(xs, numeric):
    nn = nonnull(xs)
    s = {"rows": len(xs), "nulls": len(xs) - len(nn),
         "null_rate": (len(xs) - len(nn)) / len(xs) if xs else 0.0}
    if numeric and nn:
        a = np.asarray(nn, dtype=float)
        s.update(min=f(a.min()), max=f(a.max()), mean=f(a.mean()), std=f(a.std()),
                 p1=f(np.percentile(a, 1)), p50=f(np.percentile(a, 50)), p99=f(np.percentile(a, 99)))
    return s


def quantile_edges(ref, bins):
    a = np.sort(np.asarray(ref, dtype=float))
    n = len(a)
    edges = []
    for i in range(1, bins):
        q = i / bins
        idx = max(math.ceil(float(n) * q) - 1, 0)
        e = float(a[idx])
        if not edges or e > edges[-1]:
            edges.append(e)
    return edges


def numeric_case(ref, cur):
    out = {"ref": summary(ref, True), "cur": summary(cur, True)}
    r = np.asarray(nonnull(ref), dtype=float)
    c = np.asarray(nonnull(cur), dtype=float)
    out["categories"] = int(len(np.unique(np.concatenate([r, c]))))
    if len(r) == 0 or len(c) == 0:
        return out
    ks = stats.ks_2samp(r, c)
    w1 = stats.wasserstein_distance(r, c)
    out["ks"] = {"statistic": f(ks.statistic), "pvalue": f(ks.pvalue),
                 "exact": max(len(r), len(c)) <= 10000}
    out["wasserstein_raw"] = f(w1)
    out["wasserstein"] = f(w1 / max(np.std(r), STD_FLOOR))
    edges = quantile_edges(r, BINS)
    e = np.asarray(edges)
    cr = np.bincount(np.searchsorted(e, r, side="left"), minlength=len(e) + 1)
    cc = np.bincount(np.searchsorted(e, c, side="left"), minlength=len(e) + 1)
    out["edges"] = edges
    out["cell_ref"] = [int(x) for x in cr]
    out["cell_cur"] = [int(x) for x in cc]
    out.update(cell_metrics(cr, cc))
    return out


def key(v):
    # DuckDB's CAST(... AS VARCHAR)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def categorical_case(ref, cur, binary):
    out = {"ref": summary(ref, False), "cur": summary(cur, False)}
    r = [key(x) for x in nonnull(ref)]
    c = [key(x) for x in nonnull(cur)]
    cats = sorted(set(r) | set(c))
    rc = {k: 0 for k in cats}
    cc = {k: 0 for k in cats}
    for k in r:
        rc[k] += 1
    for k in c:
        cc[k] += 1
    out["categories"] = len(cats)
    new = sorted([k for k in cats if rc[k] == 0], key=lambda k: (-cc[k], k))
    gone = sorted([k for k in cats if cc[k] == 0], key=lambda k: (-rc[k], k))
    out["new"] = [{"value": k, "cur_count": cc[k], "cur_share": cc[k] / len(c)} for k in new]
    out["vanished"] = [{"value": k, "ref_count": rc[k], "ref_share": rc[k] / len(r)} for k in gone]
    if not r or not c:
        return out
    out.update(cell_metrics([rc[k] for k in cats], [cc[k] for k in cats]))
    refcats = [k for k in cats if rc[k] > 0]
    obs = [cc[k] for k in refcats]
    share = np.array([rc[k] / len(r) for k in refcats])
    newrows = sum(cc[k] for k in new)
    if newrows > 0:
        obs.append(newrows)
        fexp = np.append(share, FLOOR) / (1 + FLOOR) * len(c)
    else:
        fexp = share * len(c)
    if len(obs) > 1:
        chi = stats.chisquare(np.asarray(obs, dtype=float), fexp)
        out["chisquare"] = {"statistic": f(chi.statistic), "pvalue": f(chi.pvalue)}
    else:
        out["chisquare"] = {"statistic": 0.0, "pvalue": None}
    if binary:
        rn, cn = nonnull(ref), nonnull(cur)
        pos = max(rn + cn)
        xr = sum(1 for x in rn if x == pos)
        xc = sum(1 for x in cn if x == pos)
        pr, pc = xr / len(rn), xc / len(cn)
        pp = (xr + xc) / (len(rn) + len(cn))
        se = math.sqrt(pp * (1 - pp) * (1 / len(rn) + 1 / len(cn)))
        if se == 0:
            z, p = 0.0, 1.0
        else:
            z = (pc - pr) / se
            p = min(1.0, 2 * stats.norm.sf(abs(z)))
        out["ztest"] = {"statistic": f(z), "pvalue": f(p), "positive": key(pos)}
    return out


def ks_pvalue(d, n1, n2):
    """p-value of ks_2samp for statistic d, sizes n1, n2, as ks_2samp selects it."""
    from scipy.stats._stats_py import _attempt_exact_2kssamp
    if max(n1, n2) <= 10000:
        ok, _, p = _attempt_exact_2kssamp(n1, n2, math.gcd(n1, n2), d, "two-sided")
        if ok:
            return float(np.clip(p, 0, 1))
        # scipy falls back to the asymptotic formula (its n1 == n2 closed form
        # can round to 1+eps when the true p-value is 1).
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))


def main():
    rng = np.random.default_rng(20260112)
    numeric = []

    def num(name, ref, cur, typ="DOUBLE"):
        numeric.append({"name": name, "type": typ, "ref": ref, "cur": cur})

    def lst(a, digits=None):
        a = np.asarray(a, dtype=float)
        if digits is not None:
            a = np.round(a, digits)
        return [float(x) for x in a]

    num("ties_small", [1, 2, 2, 3, 3, 3, 4], [2, 3, 3, 4, 4, 5], "BIGINT")
    num("tiny_1_1", [1.0], [2.0])
    num("tiny_1_1_same", [3.5], [3.5])
    num("tiny_2_1", [1.0, 2.0], [1.5])
    num("tiny_2_2_same", [1.0, 2.0], [2.0, 1.0])
    num("tiny_5_5", [0.5, 1.25, -3.0, 7.0, 2.0], [1.0, 2.5, 3.5, 9.0, 10.0])
    num("tiny_5_3_nulls", [0.5, None, 1.25, -3.0, 7.0, None, 2.0], [None, 1.0, 2.5, 9.0])
    num("small_equal_n", lst(rng.normal(0, 1, 100)), lst(rng.normal(0.3, 1, 100)))
    num("small_unequal", lst(rng.normal(10, 2, 300)), lst(rng.normal(10.5, 3, 250)))
    num("small_same_dist", lst(rng.normal(0, 1, 500)), lst(rng.normal(0, 1, 400)))
    num("int_many_ties", [int(x) for x in rng.poisson(3, 2000)], [int(x) for x in rng.poisson(3.3, 1500)], "BIGINT")
    num("exact_boundary", lst(rng.normal(0, 1, 10000), 4), lst(rng.normal(0.02, 1, 8000), 4))
    num("large_nodrift", lst(rng.normal(100, 15, 20000), 3), lst(rng.normal(100, 15, 12000), 3))
    num("large_shift", lst(rng.normal(100, 15, 20000), 3), lst(rng.normal(101.5, 15, 15000), 3))
    num("large_scale", lst(rng.lognormal(3, 1, 15000), 3), lst(rng.lognormal(3, 1.2, 11000), 3))
    num("large_int_ties", [int(x) for x in rng.poisson(20, 12000)], [int(x) for x in rng.poisson(20.3, 10500)], "BIGINT")
    num("constant_same", [5.0] * 50, [5.0] * 40)
    num("constant_diff", [5.0] * 50, [5.5] * 40)
    num("constant_ref", [2.0] * 30, lst(rng.normal(2, 0.5, 25)))
    num("outside_range", lst(rng.uniform(0, 1, 200)), lst(rng.uniform(0.5, 1.8, 150)))
    num("empty_cur", [1.0, 2.0, 3.0], [])
    num("null_cur", [1.0, 2.0, 3.0], [None, None])
    num("null_ref", [None], [1.0, 2.0])

    categorical = []

    def cat(name, ref, cur, typ="VARCHAR", binary=False):
        categorical.append({"name": name, "type": typ, "ref": ref, "cur": cur, "binary": binary})

    cat("cat_basic", ["a"] * 50 + ["b"] * 30 + ["c"] * 20, ["a"] * 40 + ["b"] * 35 + ["c"] * 25)
    cat("cat_new_vanished", ["a"] * 40 + ["b"] * 30 + ["c"] * 20 + ["d"] * 10,
        ["a"] * 35 + ["b"] * 30 + ["e"] * 5 + ["f"] * 2 + [None] * 3)
    cat("cat_nulls", ["x", None, "y", "y", None, "z"], ["x", "x", "y", None, "z", "z", "z"])
    cat("cat_single", ["x"] * 10, ["x"] * 7)
    cat("cat_single_new", ["x"] * 10, ["x"] * 7 + ["y"])
    cat("cat_tiny", ["a"], ["b"])
    names = [f"c{i:02d}" for i in range(30)]
    w1 = rng.dirichlet(np.ones(30))
    w2 = 0.8 * w1 + 0.2 * rng.dirichlet(np.ones(30))
    cat("cat_large", [str(x) for x in rng.choice(names, 5000, p=w1)],
        [str(x) for x in rng.choice(names, 4000, p=w2)] + ["c99"] * 40)
    cat("cat_empty_ref", [None, None], ["a", "b"])
    cat("bin_bool", [True] * 70 + [False] * 30 + [None] * 5, [True] * 55 + [False] * 45, "BOOLEAN", True)
    cat("bin_int", [int(x) for x in rng.binomial(1, 0.1, 3000)], [int(x) for x in rng.binomial(1, 0.13, 2500)],
        "BIGINT", True)
    cat("bin_constant", [1] * 20, [1] * 15, "BIGINT", True)
    cat("bin_new_value", [0] * 20, [0] * 12 + [1] * 3, "BIGINT", True)
    cat("bin_same_rate", [True] * 10 + [False] * 10, [False] * 5 + [True] * 5, "BOOLEAN", True)

    expected = {"scipy": scipy.__version__, "numpy": np.__version__, "bins": BINS, "numeric": {}, "categorical": {}}
    for c in numeric:
        expected["numeric"][c["name"]] = numeric_case(c["ref"], c["cur"])
    for c in categorical:
        expected["categorical"][c["name"]] = categorical_case(c["ref"], c["cur"], c["binary"])

    # KSPValue grid: (d, n1, n2) through both paths and every kstwo branch.
    grid = []
    for n1, n2 in [(1, 1), (1, 2), (2, 3), (3, 4), (5, 5), (10, 10), (7, 13), (50, 70), (100, 100),
                   (1000, 1500), (2500, 10000), (10000, 10000), (10000, 9999)]:
        lcm = n1 * n2 // math.gcd(n1, n2)
        for frac in [0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.0]:
            d = round(frac * lcm) / lcm
            grid.append({"d": d, "n1": n1, "n2": n2, "p": ks_pvalue(d, n1, n2)})
    for n1, n2 in [(20000, 10001), (20000, 15000), (1000000, 100000), (10001, 30), (50000, 200), (10001, 3)]:
        for d in [1e-4, 0.001, 0.003, 0.005, 0.008, 0.012, 0.02, 0.04, 0.08, 0.2, 0.5, 0.7, 0.95]:
            grid.append({"d": d, "n1": n1, "n2": n2, "p": ks_pvalue(d, n1, n2)})
    expected["ks_pvalue"] = grid

    kst = []
    for n in [1, 2, 5, 30, 140, 141, 500, 7500, 90909, 100001, 500000]:
        for x in [0.0005, 0.002, 0.004, 0.01, 0.02, 0.03, 0.06, 0.1, 0.2, 0.3, 0.45, 0.5, 0.6, 0.9, 0.99]:
            kst.append({"n": n, "x": x, "sf": float(stats.kstwo.sf(x, n))})
    expected["kstwo_sf"] = kst

    chi = []
    for df in [1, 2, 3, 5, 10, 29, 100, 999]:
        for x in [0.0, 1e-3, 0.5, 1.0, 3.84, 10.0, 50.0, 120.0, 300.0, 1100.0, 5000.0]:
            chi.append({"x": x, "df": df, "sf": float(stats.chi2.sf(x, df))})
    expected["chi2_sf"] = chi
    expected["norm_sf"] = [{"z": z, "sf": float(stats.norm.sf(z))}
                           for z in [-5.0, -1.96, -0.5, 0.0, 0.3, 1.0, 1.96, 3.0, 6.0, 10.0, 30.0]]

    with open(os.path.join(HERE, "samples.json"), "w") as fh:
        json.dump({"numeric": numeric, "categorical": categorical}, fh, separators=(",", ":"))
        fh.write("\n")
    with open(os.path.join(HERE, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
