#!/usr/bin/python3
"""A JSON-dialect device for vpp's MQTT adapter tests, built on Debian's python3-paho-mqtt.

It speaks vpp's JSON topics (vpp/{site}/{asset}/telemetry|cmd|ack) and is driven line by line on
stdin; it reports on stdout:
  ready                      connected and subscribed to its cmd topic
  cmd <json>                 a command arrived (acked automatically unless 'autoack off')
  ok                         the last publication was acknowledged by the broker (QoS 1)
Commands on stdin:
  telemetry <json>           publish <json> on the telemetry topic
  raw <topic> <payload>      publish any payload on any topic
  big <topic> <n>            publish n bytes of 'x'
  autoack on|off|dup         ack each command once, never, or twice (a QoS 1 style duplicate)
  ack <command_id> <status>  publish an ack by hand
  quit
"""
import argparse
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--site", required=True)
ap.add_argument("--asset", required=True)
ap.add_argument("--prefix", default="vpp")
args = ap.parse_args()

base = f"{args.prefix}/{args.site}/{args.asset}"
mode = {"ack": "on"}
ready = threading.Event()
out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def publish(topic, payload):
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish()
    say("ok")


def ack(command_id, status):
    body = json.dumps({"commandId": command_id, "siteId": args.site, "assetId": args.asset,
                       "status": status, "time": now_rfc3339(), "detail": "json peer"})
    client.publish(base + "/ack", body, qos=1)


def on_connect(c, userdata, flags, rc):
    c.subscribe(base + "/cmd", qos=1)


def on_subscribe(c, userdata, mid, granted):
    ready.set()
    say("ready")


def on_message(c, userdata, msg):
    payload = msg.payload.decode("utf-8", "replace")
    say("cmd " + payload)
    try:
        cmd = json.loads(payload)
    except ValueError:
        return
    if mode["ack"] in ("on", "dup"):
        ack(cmd.get("commandId", ""), "ACK_STATUS_ACCEPTED")
    if mode["ack"] == "dup":
        ack(cmd.get("commandId", ""), "ACK_STATUS_ACCEPTED")


client = mqtt.Client(client_id=f"json-peer-{args.site}-{args.asset}", clean_session=True)
client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.reconnect_delay_set(min_delay=1, max_delay=2)
client.connect("127.0.0.1", args.port, keepalive=10)
client.loop_start()

for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    verb, _, rest = line.partition(" ")
    if verb == "telemetry":
        publish(base + "/telemetry", rest)
    elif verb == "raw":
        topic, _, payload = rest.partition(" ")
        publish(topic, payload)
    elif verb == "big":
        topic, _, n = rest.partition(" ")
        publish(topic, "x" * int(n))
    elif verb == "autoack":
        mode["ack"] = rest
        say("ok")
    elif verb == "ack":
        cid, _, status = rest.partition(" ")
        ack(cid, status)
        say("ok")
    elif verb == "quit":
        break
client.loop_stop()
client.disconnect()
