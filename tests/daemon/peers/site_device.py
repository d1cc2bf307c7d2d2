#!/usr/bin/python3
"""A simulated building site for vppd's daemon tests, speaking vpp's JSON MQTT dialect with
Debian's python3-paho-mqtt. It keeps publishing across vppd restarts (it talks to the broker).

Physics, once per --period seconds:
  battery  P follows the last BATTERY_P_KW command until it expires (then 0), within its ratings
           (discharge positive); SoC integrates P (no losses: the test checks power, not energy)
  meter    P = base load + noise - battery P  (import positive)
The noise (seeded, +-0.5 kW uniform) keeps the meter from reading identical values, which the
controller would gate as a frozen meter.

stdout lines:
  ready                connected and subscribed to the command topics
  cmd <json>           a command arrived (acked ACCEPTED at once)
stdin lines:
  raw <topic> <payload>   publish any payload on any topic (bad input)
  big <topic> <n>         publish n bytes of 'x'
  quit
"""
import argparse
import datetime
import json
import random
import sys
import threading
import time

import paho.mqtt.client as mqtt

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--site", required=True)
ap.add_argument("--prefix", default="vpp")
ap.add_argument("--base-kw", type=float, default=500.0)
ap.add_argument("--battery", default="battery")
ap.add_argument("--capacity-kwh", type=float, default=500.0)
ap.add_argument("--max-kw", type=float, default=200.0)
ap.add_argument("--soc-pct", type=float, default=60.0)
ap.add_argument("--meter", default="meter")
ap.add_argument("--period", type=float, default=1.0)
ap.add_argument("--seed", type=int, default=1)
args = ap.parse_args()

rng = random.Random(args.seed)
lock = threading.Lock()
state = {"p_kw": 0.0, "until": 0.0, "soc": args.soc_pct}
out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def topic(asset, kind):
    return f"{args.prefix}/{args.site}/{asset}/{kind}"


def on_connect(c, userdata, flags, rc):
    c.subscribe(f"{args.prefix}/{args.site}/+/cmd", qos=1)


def on_subscribe(c, userdata, mid, granted):
    say("ready")


def on_message(c, userdata, msg):
    payload = msg.payload.decode("utf-8", "replace")
    say("cmd " + payload)
    try:
        cmd = json.loads(payload)
    except ValueError:
        return
    asset = msg.topic.split("/")[-2]
    status = "ACK_STATUS_ACCEPTED"
    if asset == args.battery and cmd.get("kind", "").endswith("BATTERY_P_KW"):
        try:
            ttl = parse_time(cmd["expires"]) - parse_time(cmd["issued"])
        except (KeyError, ValueError):
            ttl = 0
        with lock:
            state["p_kw"] = max(-args.max_kw, min(args.max_kw, float(cmd.get("value", 0.0))))
            state["until"] = time.time() + ttl
    else:
        status = "ACK_STATUS_REJECTED"
    ack = {"commandId": cmd.get("commandId", ""), "siteId": args.site, "assetId": asset, "status": status,
           "time": rfc3339(time.time()), "detail": "site_device.py"}
    c.publish(topic(asset, "ack"), json.dumps(ack), qos=1)


client = mqtt.Client(client_id=f"site-device-{args.site}", clean_session=True)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.reconnect_delay_set(min_delay=1, max_delay=2)
client.connect("127.0.0.1", args.port, keepalive=10)
client.loop_start()

stop = threading.Event()


def physics():
    last = time.time()
    while not stop.is_set():
        now = time.time()
        dt_h = (now - last) / 3600.0
        last = now
        with lock:
            p = state["p_kw"] if now < state["until"] else 0.0
            state["soc"] = max(0.0, min(100.0, state["soc"] - p * dt_h / args.capacity_kwh * 100.0))
            soc = state["soc"]
        meter = args.base_kw + rng.uniform(-0.5, 0.5) - p
        t = rfc3339(now)
        client.publish(topic(args.meter, "telemetry"),
                       json.dumps({"siteId": args.site, "assetId": args.meter, "time": t, "pKw": round(meter, 3)}))
        client.publish(topic(args.battery, "telemetry"),
                       json.dumps({"siteId": args.site, "assetId": args.battery, "time": t, "pKw": round(p, 3),
                                   "socPct": round(soc, 4)}))
        stop.wait(args.period)


threading.Thread(target=physics, daemon=True).start()

for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    verb, _, rest = line.partition(" ")
    if verb == "raw":
        t, _, payload = rest.partition(" ")
        client.publish(t, payload, qos=1).wait_for_publish()
        say("ok")
    elif verb == "big":
        t, _, n = rest.partition(" ")
        client.publish(t, "x" * int(n), qos=1).wait_for_publish()
        say("ok")
    elif verb == "quit":
        break
stop.set()
client.loop_stop()
client.disconnect()
