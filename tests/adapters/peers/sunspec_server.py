#!/usr/bin/python3
"""A SunSpec Modbus TCP device for vpp's Modbus adapter tests, served by Debian's python3-pymodbus.

The register image is built here, in Python, straight from the official SunSpec JSON models in
proto/sunspec/models (offsets = running sums of point sizes; big-endian; sentinels for points
left unset), independently of vpp's C++ generator and codec, so the adapter is checked against a
second reading of the same standard.

  sunspec_server.py --port P --device UNIT:PROFILE[:BASE] [--device ...] [faults]
  sunspec_server.py --rtu /dev/pts/N [--baud B] --device ...     (Modbus RTU on a serial line)

Profiles: pv1xx (models 1, 103, 120, 121, 122, 123, 160 with 2 modules) and bat7xx (models 1,
701, 702, 704, 713, 802). BASE is 40000 (default), 0 or 50000.
Faults, applied by a front proxy that parses Modbus TCP frames:
  --drop-writes N        close the client's connection on its first N write requests (FC 6/16)
  --blackhole-unit U     never answer requests for unit U (the client times out)
  --delay-unit U:MS      answer requests for unit U after MS milliseconds
Stdout: "ready" once listening; "write UNIT ADDR V1,V2,..." for every register write that lands.
"""
import argparse
import asyncio
import json
import os
import socket
import struct
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartAsyncTcpServer

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "..", "proto", "sunspec", "models")

SIZES = {"int16": 1, "uint16": 1, "acc16": 1, "enum16": 1, "bitfield16": 1, "raw16": 1, "sunssf": 1, "pad": 1,
         "count": 1, "int32": 2, "uint32": 2, "acc32": 2, "enum32": 2, "bitfield32": 2, "float32": 2, "ipaddr": 2,
         "int64": 4, "uint64": 4, "acc64": 4, "bitfield64": 4, "float64": 4, "ipv6addr": 8, "eui48": 4}


def sentinel(ptype, size):
    if ptype in ("int16", "sunssf", "int32", "int64"):
        return [0x8000] + [0] * (size - 1)
    if ptype in ("uint16", "enum16", "bitfield16", "uint32", "enum32", "bitfield32", "uint64", "bitfield64"):
        return [0xFFFF] * size
    if ptype == "float32":
        return [0x7FC0, 0]
    return [0] * size


def encode(ptype, size, value):
    if ptype == "string":
        b = value.encode("ascii").ljust(size * 2, b"\0")
        return [(b[2 * i] << 8) | b[2 * i + 1] for i in range(size)]
    if ptype == "float32":
        hi, lo = struct.unpack(">HH", struct.pack(">f", value))
        return [hi, lo]
    v = int(value) & ((1 << (16 * size)) - 1)  # two's complement for negative values
    return [(v >> (16 * (size - 1 - i))) & 0xFFFF for i in range(size)]


def build_model(model_id, values, repeats=0):
    """The block of one model (ID, L, points, repeating groups) from {path: value}."""
    with open(os.path.join(MODELS, f"model_{model_id}.json"), encoding="utf-8") as f:
        top = json.load(f)["group"]
    regs = []
    used = set()

    def group(g, prefix, count_values):
        for p in g["points"]:
            path = prefix + p["name"]
            size = int(p["size"]) if p["type"] == "string" else SIZES[p["type"]]
            if path in values:
                regs.extend(encode(p["type"], size, values[path]))
                used.add(path)
            elif p["name"] in count_values:
                regs.extend(encode(p["type"], size, count_values[p["name"]]))
            else:
                regs.extend(sentinel(p["type"], size))
        for sub in g.get("groups", []):
            count = sub.get("count")
            n = 1 if count is None else repeats
            counts = {count: repeats} if isinstance(count, str) else {}
            for i in range(n):
                group(sub, prefix + sub["name"] + (f"[{i}]." if count is not None else "."), counts)

    # By-point counts live in the parent group: fill them in on the way down.
    counts = {s["count"]: repeats for s in top.get("groups", []) if isinstance(s.get("count"), str)}
    group(top, "", counts)
    unknown = set(values) - used - {"ID", "L"}
    if unknown:
        sys.exit(f"model {model_id}: unknown points {sorted(unknown)}")
    regs[0] = model_id
    regs[1] = len(regs) - 2
    return regs


def common(unit, md, sn):
    return build_model(1, {"Mn": "vpp-test", "Md": md, "Vr": "1.0", "SN": sn, "DA": unit})


PROFILES = {
    "pv1xx": lambda unit: [
        common(unit, "pv-1xx", f"PV-{unit:04d}"),
        build_model(103, {"A": 520, "A_SF": -1, "PhVphA": 2301, "PhVphB": 2302, "PhVphC": 2299, "V_SF": -1,
                          "W": 1234, "W_SF": 1, "Hz": 5001, "Hz_SF": -2, "VAr": -50, "VAr_SF": 0,
                          "WH": 123456, "WH_SF": 0, "St": 4}),
        build_model(120, {"DERTyp": 4, "WRtg": 2000, "WRtg_SF": 1}),
        build_model(121, {"WMax": 2000, "WMax_SF": 1}),
        build_model(122, {"WAval": 1500, "WAval_SF": 1}),
        build_model(123, {"WMaxLimPct": 10000, "WMaxLimPct_SF": -2, "WMaxLim_Ena": 0, "WMaxLimPct_RvrtTms": 0}),
        build_model(160, {"DCA_SF": -2, "DCV_SF": -1, "DCW_SF": 0, "DCWH_SF": 0, "N": 2,
                          "module[0].ID": 1, "module[0].DCW": 6000, "module[1].ID": 2, "module[1].DCW": 6500},
                    repeats=2),
    ],
    "bat7xx": lambda unit: [
        common(unit, "battery-7xx", f"BAT-{unit:04d}"),
        build_model(701, {"ACType": 3, "St": 1, "InvSt": 4, "ConnSt": 1, "W": -5000, "W_SF": 0, "Var": 100,
                          "Var_SF": 0, "Hz": 50000, "Hz_SF": -3}),
        build_model(702, {"WMaxRtg": 5000, "WChaRteMaxRtg": 5000, "WDisChaRteMaxRtg": 5000, "WMax": 5000,
                          "W_SF": 1}),
        build_model(704, {"WMaxLimPctEna": 0, "WMaxLimPct": 1000, "WMaxLimPct_SF": -1, "WSetEna": 0, "WSetMod": 0,
                          "WSet": 0, "WSet_SF": 1, "WSetRvrtTms": 0, "WMaxLimPctRvrtTms": 0}),
        build_model(713, {"WHRtg": 1000, "WHAvail": 655, "WH_SF": 2, "SoC": 655, "SoH": 980, "Pct_SF": -1, "Sta": 1}),
        build_model(802, {"SoC": 65, "SoC_SF": 0, "LocRemCtl": 0, "State": 3}),
    ],
}


class Recording(ModbusSequentialDataBlock):
    def __init__(self, unit, address, values):
        super().__init__(address, values)
        self.unit = unit

    def setValues(self, address, values):  # noqa: N802 (pymodbus API)
        super().setValues(address, values)
        vals = values if isinstance(values, list) else [values]
        print(f"write {self.unit} {address} " + ",".join(str(v) for v in vals), flush=True)


def image(unit, profile, base):
    regs = [0x5375, 0x6E53]  # "SunS"
    for block in PROFILES[profile](unit):
        regs.extend(block)
    regs.extend([0xFFFF, 0])  # end model
    return Recording(unit, base, regs)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def proxy(args, inner_port):
    drops = {"left": args.drop_writes}
    delays = {}
    for d in args.delay_unit or []:
        u, ms = d.split(":")
        delays[int(u)] = int(ms) / 1000.0

    async def handle(reader, writer):
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", inner_port)
        except OSError:
            writer.close()
            return
        try:
            while True:
                head = await reader.readexactly(7)
                length = struct.unpack(">H", head[4:6])[0]
                body = await reader.readexactly(length - 1)
                unit, fc = head[6], body[0]
                if fc in (6, 16) and drops["left"] > 0:
                    drops["left"] -= 1
                    print("dropped-write", flush=True)
                    break
                if unit in args.blackhole_unit:
                    continue
                up_w.write(head + body)
                await up_w.drain()
                rhead = await up_r.readexactly(7)
                rbody = await up_r.readexactly(struct.unpack(">H", rhead[4:6])[0] - 1)
                if unit in delays:
                    await asyncio.sleep(delays[unit])
                writer.write(rhead + rbody)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            up_w.close()

    return await asyncio.start_server(handle, "127.0.0.1", args.port)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--rtu", help="serve Modbus RTU on this serial device instead of TCP")
    ap.add_argument("--baud", type=int, default=19200)
    ap.add_argument("--device", action="append", required=True)
    ap.add_argument("--drop-writes", type=int, default=0)
    ap.add_argument("--blackhole-unit", type=int, action="append", default=[])
    ap.add_argument("--delay-unit", action="append")
    args = ap.parse_args()
    slaves = {}
    for d in args.device:
        parts = d.split(":")
        unit, profile = int(parts[0]), parts[1]
        base = int(parts[2]) if len(parts) > 2 else 40000
        slaves[unit] = ModbusSlaveContext(hr=image(unit, profile, base), zero_mode=True)
    context = ModbusServerContext(slaves=slaves, single=False)
    if args.rtu:
        from pymodbus.server import StartAsyncSerialServer
        from pymodbus.transaction import ModbusRtuFramer
        server = await StartAsyncSerialServer(context=context, framer=ModbusRtuFramer, port=args.rtu,
                                              baudrate=args.baud, bytesize=8, parity="N", stopbits=1,
                                              defer_start=True)
        await server.start()
        print("ready", flush=True)
        await server.serve_forever()
        return
    inner = free_port()
    server = await StartAsyncTcpServer(context=context, address=("127.0.0.1", inner), defer_start=True)
    task = asyncio.create_task(server.serve_forever())
    for _ in range(200):
        try:
            r, w = await asyncio.open_connection("127.0.0.1", inner)
            w.close()
            break
        except OSError:
            await asyncio.sleep(0.02)
    front = await proxy(args, inner)
    print("ready", flush=True)
    async with front:
        await asyncio.gather(front.serve_forever(), task)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
