#!/usr/bin/env python3
"""Generates vpp's SunSpec register tables (C++) from the official SunSpec model JSON files.

Usage: gen_models.py OUTPUT.cpp MODEL.json...

Offsets are not stored in the JSON: they are the running sum of point sizes in register order,
with a group's points first and its sub-groups after them (SunSpec model schema). Each point's
offset is relative to the start of its group instance; the top-level group starts at the ID
register. The generator fails on anything it cannot lay out (unknown point type, size that
disagrees with the type, a 7xx model whose declared L disagrees with the computed one), so a
bad model file breaks the build rather than a device read.
"""
import json
import re
import sys

FIXED_SIZES = {
    "int16": 1, "uint16": 1, "acc16": 1, "enum16": 1, "bitfield16": 1, "raw16": 1, "sunssf": 1,
    "pad": 1, "count": 1, "int32": 2, "uint32": 2, "acc32": 2, "enum32": 2, "bitfield32": 2,
    "float32": 2, "ipaddr": 2, "int64": 4, "uint64": 4, "acc64": 4, "bitfield64": 4, "float64": 4,
    "ipv6addr": 8, "eui48": 4,
}
TYPES = list(FIXED_SIZES) + ["string"]


def cstr(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def ident(s):
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


class Gen:
    def __init__(self):
        self.out = []
        self.counter = 0

    def group(self, model_id, g, path):
        """Emits arrays for group g; returns (c_name_of_GroupDef_initialiser, size_in_registers)."""
        points = []
        offset = 0
        for p in g.get("points", []):
            t = p["type"]
            if t not in TYPES:
                sys.exit(f"model {model_id}: point {p['name']}: unknown type {t}")
            size = int(p["size"])
            if t != "string" and FIXED_SIZES[t] != size:
                sys.exit(f"model {model_id}: point {p['name']}: size {size} does not match {t}")
            points.append((p, offset, size))
            offset += size
        subgroups = []
        for s in g.get("groups", []):
            sub_init, sub_size = self.group(model_id, s, path + [s["name"]])
            count = s.get("count")
            subgroups.append((s, sub_init, sub_size, count, offset))
            if count is None:
                offset += sub_size
            # Repeating groups come last in every SunSpec model; a fixed count of 1 is "once".
            elif isinstance(count, int) and count > 0:
                offset += sub_size * count
        base = f"m{model_id}_{ident('_'.join(path))}"
        sym_arrays = []
        for p, _, _ in points:
            syms = p.get("symbols") or []
            if syms:
                name = f"{base}_{ident(p['name'])}_symbols"
                rows = ",\n".join(f"    {{{cstr(s['name'])}, {int(s['value'])}}}" for s in syms)
                self.out.append(f"constexpr Symbol {name}[] = {{\n{rows}\n}};")
                sym_arrays.append(name)
            else:
                sym_arrays.append(None)
        prow = []
        for (p, off, size), syms in zip(points, sym_arrays):
            sf = p.get("sf")
            sf_point = sf if isinstance(sf, str) else ""
            sf_fixed = sf if isinstance(sf, int) else 0
            has_fixed = "true" if isinstance(sf, int) else "false"
            value = p.get("value")
            fixed_value = int(value) if isinstance(value, int) else -1
            symspan = f"std::span<const Symbol>({syms})" if syms else "{}"
            prow.append(
                f"    {{{cstr(p['name'])}, PointType::{'string_' if p['type']=='string' else p['type']}, {off}, {size}, "
                f"{cstr(p.get('units', '').strip())}, {cstr(sf_point)}, {sf_fixed}, {has_fixed}, "
                f"{'true' if p.get('access', 'R') == 'RW' else 'false'}, "
                f"{'true' if p.get('mandatory', 'O') == 'M' else 'false'}, "
                f"{'true' if p.get('static', 'D') == 'S' else 'false'}, {fixed_value}, {symspan}}}")
        pname = f"{base}_points"
        self.out.append(f"constexpr PointDef {pname}[] = {{\n" + ",\n".join(prow) + "\n};")
        gname = None
        if subgroups:
            gname = f"{base}_groups"
            rows = []
            for s, sub_init, sub_size, count, off in subgroups:
                if count is None:
                    rep, cp = "GroupRepeat::once", ""
                elif count == 0:
                    rep, cp = "GroupRepeat::fill", ""
                elif isinstance(count, str):
                    rep, cp = "GroupRepeat::by_point", count
                else:
                    sys.exit(f"model {model_id}: group {s['name']}: unsupported count {count!r}")
                rows.append(f"    {{{sub_init}, {rep}, {cstr(cp)}, {off}}}")
            self.out.append(f"constexpr GroupDef {gname}[] = {{\n" + ",\n".join(rows) + "\n};")
        init = (f"{cstr(g['name'])}, {offset}, std::span<const PointDef>({pname}), "
                f"{'std::span<const GroupDef>(' + gname + ')' if gname else '{}'}")
        return init, offset

    def model(self, m):
        mid = int(m["id"])
        g = m["group"]
        init, size = self.group(mid, g, [g["name"]])
        # L excludes the ID and L registers; repeating groups contribute nothing to the fixed L.
        fixed_l = size - 2
        declared = None
        for p in g["points"]:
            if p["name"] == "L" and isinstance(p.get("value"), int):
                declared = p["value"]
        if declared is not None and declared != fixed_l:
            sys.exit(f"model {mid}: declared L {declared} != computed {fixed_l}")
        return (mid, g["name"], g.get("label", ""), fixed_l, init)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: gen_models.py OUTPUT.cpp MODEL.json...")
    gen = Gen()
    models = []
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            models.append(gen.model(json.load(f)))
    models.sort()
    rows = ",\n".join(
        f"    {{{mid}, {cstr(name)}, {cstr(label)}, {fixed_l}, GroupDef{{{init}, GroupRepeat::once, \"\", 0}}}}"
        for mid, name, label, fixed_l, init in models)
    text = [
        "// Generated by proto/sunspec/gen_models.py from the SunSpec model JSON files in",
        "// proto/sunspec/models (Apache-2.0, SunSpec Alliance). Do not edit.",
        '#include "proto/sunspec_model.hpp"',
        "",
        "namespace vpp::sunspec {",
        "namespace {",
        "",
        *gen.out,
        "",
        "constexpr ModelDef kModels[] = {",
        rows,
        "};",
        "",
        "}  // namespace",
        "",
        "std::span<const ModelDef> all_models() { return kModels; }",
        "",
        "}  // namespace vpp::sunspec",
        "",
    ]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        f.write("\n".join(text))


if __name__ == "__main__":
    main()
