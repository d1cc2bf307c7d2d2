#!/usr/bin/python3
"""Side-by-side: the same fleet LP solved by HiGHS (scipy.optimize.linprog, method="highs") and by
vpp's own solvers.

The LP comes from vpp's builder: `vpp-bench optimizer --export-mps FILE` writes it (CLP's free MPS,
extra accuracy) and runs the chosen vpp solver(s); this script reads the MPS into scipy sparse
matrices, solves it with HiGHS and prints one JSON line per solver:

    /usr/bin/python3 bench/highs_compare.py --sites 300 [--steps 96] [--seed 1] [--solver both]

Use Debian's /usr/bin/python3: python3-scipy 1.10 carries HiGHS 1.2.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.optimize import linprog


def read_mps(path):
    """Reads free MPS as CLP writes it (ROWS, COLUMNS, RHS, RANGES, BOUNDS). Returns c, A, row
    bounds (lo, hi) and column bounds (lo, hi)."""
    rows, row_type, obj_row = {}, [], None
    cols, c = {}, []
    ri, ci, vals = [], [], []
    rhs, ranges, bounds = {}, {}, {}
    section = None
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("*"):
                continue
            if not line[0].isspace():
                section = line.split()[0]
                if section == "ENDATA":
                    break
                continue
            tok = line.split()
            if section == "ROWS":
                kind, name = tok
                if kind == "N":
                    if obj_row is None:
                        obj_row = name
                    continue
                rows[name] = len(row_type)
                row_type.append(kind)
            elif section == "COLUMNS":
                if "'MARKER'" in tok:
                    raise ValueError("integer markers are not supported (the fleet LP has none)")
                name = tok[0]
                if name not in cols:
                    cols[name] = len(c)
                    c.append(0.0)
                j = cols[name]
                for k in range(1, len(tok) - 1, 2):
                    r, v = tok[k], float(tok[k + 1])
                    if r == obj_row:
                        c[j] = v
                    else:
                        ri.append(rows[r])
                        ci.append(j)
                        vals.append(v)
            elif section in ("RHS", "RANGES"):
                target = rhs if section == "RHS" else ranges
                for k in range(1, len(tok) - 1, 2):
                    if tok[k] != obj_row:
                        target[tok[k]] = float(tok[k + 1])
            elif section == "BOUNDS":
                kind, name = tok[0], tok[2]
                v = float(tok[3]) if len(tok) > 3 else None
                bounds.setdefault(name, []).append((kind, v))
            else:
                raise ValueError(f"unsupported MPS section {section}")
    m, n = len(row_type), len(c)
    A = sp.csr_matrix((vals, (ri, ci)), shape=(m, n))
    lo = np.full(m, -np.inf)
    hi = np.full(m, np.inf)
    for name, i in rows.items():
        b = rhs.get(name, 0.0)
        kind = row_type[i]
        if kind == "E":
            lo[i] = hi[i] = b
        elif kind == "L":
            hi[i] = b
        elif kind == "G":
            lo[i] = b
        if name in ranges:  # MPS range semantics
            r = ranges[name]
            if kind == "L":
                lo[i] = b - abs(r)
            elif kind == "G":
                hi[i] = b + abs(r)
            elif r >= 0:
                hi[i] = b + r
            else:
                lo[i] = b + r
    clo = np.zeros(n)
    chi = np.full(n, np.inf)
    for name, items in bounds.items():
        j = cols[name]
        for kind, v in items:
            if kind == "UP":
                chi[j] = v
            elif kind == "LO":
                clo[j] = v
            elif kind == "FX":
                clo[j] = chi[j] = v
            elif kind == "FR":
                clo[j], chi[j] = -np.inf, np.inf
            elif kind == "MI":
                clo[j] = -np.inf
            elif kind == "PL":
                chi[j] = np.inf
            else:
                raise ValueError(f"unsupported bound type {kind}")
    return np.array(c), A, lo, hi, clo, chi


def solve_highs(path, time_limit=None):
    t0 = time.perf_counter()
    c, A, lo, hi, clo, chi = read_mps(path)
    eq = lo == hi
    ub = np.isfinite(hi) & ~eq
    lb = np.isfinite(lo) & ~eq
    A_ub = sp.vstack([A[ub], -A[lb]]).tocsr()
    b_ub = np.concatenate([hi[ub], -lo[lb]])
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A[eq], b_eq=lo[eq],
                  bounds=np.column_stack([clo, np.where(np.isinf(chi), None, chi)]), method="highs",
                  options={"time_limit": time_limit} if time_limit else None)
    solve_s = time.perf_counter() - t1
    return res, A.shape, read_s, solve_s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sites", type=int, required=True)
    ap.add_argument("--steps", type=int, default=96)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--solver", default="decomposed", choices=["clp", "decomposed", "both"],
                    help="vpp solver(s) to run beside HiGHS")
    ap.add_argument("--clp-method", default="dual", choices=["dual", "barrier", "barrier-nocross"])
    ap.add_argument("--bench", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "..", "build", "bin", "vpp-bench"))
    ap.add_argument("--keep-mps", help="write the MPS here instead of a temporary file")
    ap.add_argument("--time-limit", type=float, help="seconds HiGHS may spend (reported as not optimal past it)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless HiGHS and CLP agree on the optimum within 1e-6 (a test of the MPS export)")
    args = ap.parse_args()
    if args.sites <= 0 or args.steps <= 0:
        ap.error("--sites and --steps must be positive")
    if not os.access(args.bench, os.X_OK):
        ap.error(f"{args.bench} is not executable: build first (scripts/build)")
    with tempfile.TemporaryDirectory() as tmp:
        mps = args.keep_mps or os.path.join(tmp, "fleet.mps")
        cmd = [args.bench, "optimizer", "--sites", str(args.sites), "--steps", str(args.steps),
               "--seed", str(args.seed), "--solver", args.solver, "--clp-method", args.clp_method,
               "--export-mps", mps]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        ours = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        res, shape, read_s, solve_s = solve_highs(mps, args.time_limit)
    for line in ours:
        print(json.dumps(line))
    ref = next((o["objective"] for o in ours if o["solver"].startswith("clp")), None)
    row = {
        "solver": "highs", "sites": args.sites, "steps": args.steps, "variables": shape[1],
        "constraints": shape[0], "build_s": round(read_s, 3), "solve_s": round(solve_s, 3),
        "objective": round(float(res.fun), 4) if res.status == 0 else None,
        "gap_to_reference": (round((float(res.fun) - ref) / abs(ref), 6) if ref and res.status == 0 else None),
        "status": res.message, "scipy": scipy.__version__,
    }
    print(json.dumps(row))
    for o in ours:
        if res.status == 0 and o["solver"] == "decomposed":
            print(json.dumps({"decomposed_vs_highs_gap": round((o["objective"] - res.fun) / abs(res.fun), 6),
                              "highs_over_decomposed_time": round(solve_s / max(o["solve_s"], 1e-3), 1)}))
    if res.status != 0:
        return 1
    if args.check and (ref is None or abs(float(res.fun) - ref) > 1e-6 * max(1.0, abs(ref))):
        print(f"highs_compare: HiGHS {res.fun} and CLP {ref} disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
