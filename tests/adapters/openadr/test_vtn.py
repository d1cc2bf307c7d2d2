#!/usr/bin/python3
"""A small OpenADR 3.0.1 VTN for the VEN's tests (standard library only).

It serves the VEN side of the API (token, programs, events, vens, resources, reports,
subscriptions) with spec-valid objects, and a control API on a second port that the tests use
to change the world: create, modify and delete events, inject failures (5xx, 401, hangs),
serve schema-invalid objects, take the API port down and up again (an outage), and read back
what the VEN sent.

In the conformance tests it sits behind Prism (@stoplight/prism-cli) in proxy mode, which
validates every request the VEN sends and every response this VTN returns against the
OpenAPI document; the behaviour tests talk to it directly.

Usage: test_vtn.py --port-file FILE   (writes "API_PORT CONTROL_PORT" once both listen)
"""
import argparse
import copy
import datetime
import hashlib
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.RLock()


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class State:
    def __init__(self):
        self.clients = {"ven-client": "ven-secret"}
        self.token_ttl_s = 3600
        self.tokens = {}            # token -> expiry (monotonic seconds)
        self.token_seq = 0
        self.programs = {}          # id -> object (insertion ordered)
        self.events = {}
        self.vens = {}
        self.resources = {}         # id -> object (with venID)
        self.reports = {}
        self.subscriptions = {}
        self.seq = 0
        self.requests = []          # every API request: method, path, query, auth, body
        self.failures = []          # [{status, count, prefix, method, hang_s}]
        self.raw_events = {}        # id -> raw JSON text served as is (schema-invalid objects)
        self.etags = True
        self.delivered = []         # notifications POSTed to callbacks: (url, status)
        self.spec = "3.0.1"         # 3.1.0: GET /auth/server, top-level /resources
        self.token_url = ""         # what GET /auth/server answers (set by the tests)

    def next_id(self, prefix):
        self.seq += 1
        return "%s-%d" % (prefix, self.seq)


S = State()


def stamp(obj, object_type, prefix, existing=None):
    obj = copy.deepcopy(obj)
    t = now_iso()
    obj["id"] = existing["id"] if existing else obj.get("id") or S.next_id(prefix)
    obj["createdDateTime"] = existing["createdDateTime"] if existing else t
    obj["modificationDateTime"] = obj.get("modificationDateTime") or t
    obj["objectType"] = object_type
    return obj


def problem(status, title, detail=""):
    return status, {"type": "about:blank", "title": title, "status": status, "detail": detail}


def page(items, q):
    skip = int(q.get("skip", ["0"])[0])
    limit = int(q.get("limit", ["50"])[0])
    return items[skip:skip + limit]


def notify(object_type, operation, obj):
    """POSTs a notification to every subscription that asked for it (best effort)."""
    with LOCK:
        subs = [copy.deepcopy(s) for s in S.subscriptions.values()]
    for sub in subs:
        if object_type == "EVENT" and sub.get("programID") not in (None, obj.get("programID")):
            continue
        for op in sub.get("objectOperations", []):
            if object_type not in op.get("objects", []) or operation not in op.get("operations", []):
                continue
            body = json.dumps({"objectType": object_type, "operation": operation, "object": obj}).encode()
            req = urllib.request.Request(op["callbackUrl"], data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": "Bearer " + (op.get("bearerToken") or "")})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as e:
                status = e.code
            except Exception:  # noqa: BLE001 - an unreachable callback is recorded, not fatal
                status = 0
            with LOCK:
                S.delivered.append({"url": op["callbackUrl"], "operation": operation, "status": status})


def echo_check(url):
    """The VTN's check of a new callback URL: GET url?echo=X must answer X."""
    challenge = hashlib.sha1(url.encode()).hexdigest()[:16]
    sep = "&" if "?" in url else "?"
    try:
        with urllib.request.urlopen(url + sep + "echo=" + challenge, timeout=5) as r:
            return r.status == 200 and r.read().decode() == challenge
    except Exception:  # noqa: BLE001
        return False


class Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj=None, headers=None, raw=None):
        body = b"" if status == 304 else (raw.encode() if raw is not None else
                                          (json.dumps(obj).encode() if obj is not None else b""))
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        path, q = url.path, urllib.parse.parse_qs(url.query)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        auth = self.headers.get("Authorization", "")
        with LOCK:
            S.requests.append({"method": method, "path": path, "query": url.query, "auth": auth, "body": body,
                               "if_none_match": self.headers.get("If-None-Match", "")})
            fail = None
            for f in S.failures:
                if f["count"] > 0 and path.startswith(f.get("prefix", "")) and f.get("method", method) == method:
                    f["count"] -= 1
                    fail = dict(f)
                    break
        if fail:
            if fail.get("hang_s"):
                time.sleep(fail["hang_s"])
            if fail.get("status") == 401:
                return self.reply(*problem(401, "Unauthorized", "token rejected (injected)"))
            if fail.get("status"):
                return self.reply(*problem(fail["status"], "Injected failure"))
            return self.reply(*problem(503, "Injected failure"))
        if path == "/auth/token" and method == "POST":
            return self.token(body)
        if path == "/auth/server" and method == "GET" and S.spec == "3.1.0":
            return self.reply(200, {"tokenURL": S.token_url})
        with LOCK:
            token = auth[7:] if auth.startswith("Bearer ") else ""
            valid = token in S.tokens and S.tokens[token] > time.monotonic()
        if not valid:
            return self.reply(*problem(401, "Unauthorized", "missing or expired bearer token"))
        try:
            return self.route(method, path, q, body)
        except (ValueError, KeyError) as e:
            return self.reply(*problem(400, "Bad Request", str(e)))

    def token(self, body):
        form = urllib.parse.parse_qs(body)
        cid = form.get("client_id", [""])[0]
        if form.get("grant_type", [""])[0] != "client_credentials" or S.clients.get(cid) != form.get("client_secret", [""])[0]:
            return self.reply(400, {"error": "invalid_client", "error_description": "unknown client or wrong secret"})
        with LOCK:
            S.token_seq += 1
            tok = "tok-%d" % S.token_seq
            S.tokens[tok] = time.monotonic() + S.token_ttl_s
        return self.reply(200, {"access_token": tok, "token_type": "Bearer", "expires_in": S.token_ttl_s})

    def listing(self, items, q):
        body = json.dumps(page(items, q))
        etag = '"%s"' % hashlib.sha1(body.encode()).hexdigest()
        if S.etags and self.headers.get("If-None-Match") == etag:
            return self.reply(304, headers={"ETag": etag})
        return self.reply(200, raw=body, headers={"ETag": etag} if S.etags else None)

    def route(self, method, path, q, body):
        parts = [p for p in path.split("/") if p]
        with LOCK:
            if parts == ["programs"] and method == "GET":
                return self.listing(list(S.programs.values()), q)
            if parts == ["events"] and method == "GET":
                pid = q.get("programID", [None])[0]
                items = [e for e in S.events.values() if pid is None or e["programID"] == pid]
                raws = [r for r in S.raw_events.values() if pid is None or r[0] == pid]
                if raws:
                    shown = page(items, q)
                    text = "[" + ",".join([json.dumps(e) for e in shown] + [r[1] for r in raws]) + "]"
                    return self.reply(200, raw=text)
                return self.listing(items, q)
            if parts == ["vens"] and method == "GET":
                name = q.get("venName", [None])[0]
                return self.listing([v for v in S.vens.values() if name is None or v["venName"] == name], q)
            if parts == ["vens"] and method == "POST":
                obj = json.loads(body)
                if any(v["venName"] == obj["venName"] for v in S.vens.values()):
                    return self.reply(*problem(409, "Conflict", "venName exists"))
                ven = stamp(obj, "VEN", "ven")
                S.vens[ven["id"]] = ven
                return self.reply(201, ven)
            if len(parts) == 3 and parts[0] == "vens" and parts[2] == "resources":
                ven_id = parts[1]
                if ven_id not in S.vens:
                    return self.reply(*problem(404, "Not Found", "no ven " + ven_id))
                if method == "GET":
                    name = q.get("resourceName", [None])[0]
                    return self.listing([r for r in S.resources.values() if r["venID"] == ven_id and
                                         (name is None or r["resourceName"] == name)], q)
                if method == "POST":
                    obj = json.loads(body)
                    res = stamp(obj, "RESOURCE", "res")
                    res["venID"] = ven_id
                    S.resources[res["id"]] = res
                    return self.reply(201, res)
            if parts == ["resources"] and S.spec == "3.1.0":
                if method == "GET":
                    ven_id = q.get("venID", [None])[0]
                    name = q.get("resourceName", [None])[0]
                    return self.listing([r for r in S.resources.values()
                                         if (ven_id is None or r["venID"] == ven_id) and
                                         (name is None or r["resourceName"] == name)], q)
                if method == "POST":
                    obj = json.loads(body)
                    if obj.get("venID") not in S.vens:
                        return self.reply(*problem(400, "Bad Request", "unknown venID"))
                    res = stamp(obj, "RESOURCE", "res")
                    S.resources[res["id"]] = res
                    return self.reply(201, res)
            if parts == ["reports"] and method == "GET":
                items = list(S.reports.values())
                for key in ("programID", "eventID", "clientName"):
                    if key in q:
                        items = [r for r in items if r.get(key) == q[key][0]]
                return self.listing(items, q)
            if parts == ["reports"] and method == "POST":
                obj = json.loads(body)
                rep = stamp(obj, "REPORT", "rep")
                S.reports[rep["id"]] = rep
                return self.reply(201, rep)
            if parts == ["subscriptions"] and method == "GET":
                items = list(S.subscriptions.values())
                for key in ("programID", "clientName"):
                    if key in q:
                        items = [s for s in items if s.get(key) == q[key][0]]
                return self.listing(items, q)
        if parts == ["subscriptions"] and method == "POST":
            obj = json.loads(body)
            for op in obj["objectOperations"]:
                if not echo_check(op["callbackUrl"]):
                    return self.reply(*problem(400, "Bad Request", "callback failed the echo check"))
            with LOCK:
                sub = stamp(obj, "SUBSCRIPTION", "sub")
                S.subscriptions[sub["id"]] = sub
            return self.reply(201, sub)
        return self.reply(*problem(404, "Not Found", method + " " + path))

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


class Control(BaseHTTPRequestHandler):
    """The tests' side door (never through Prism)."""
    protocol_version = "HTTP/1.1"
    api = None  # ApiServer

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            if self.path == "/requests":
                return self.reply(200, S.requests)
            if self.path == "/reports":
                return self.reply(200, list(S.reports.values()))
            if self.path == "/state":
                return self.reply(200, {"vens": list(S.vens.values()), "resources": list(S.resources.values()),
                                        "subscriptions": list(S.subscriptions.values()),
                                        "delivered": S.delivered, "events": list(S.events.values())})
        self.reply(404, {})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n).decode() or "{}") if n else {}
        out = {}
        notes = []
        with LOCK:
            if self.path == "/program":
                prog = stamp(body, "PROGRAM", "prog")
                S.programs[prog["id"]] = prog
                out = prog
            elif self.path == "/event":
                existing = S.events.get(body.get("id", ""))
                ev = stamp(body, "EVENT", "ev", existing)
                S.events[ev["id"]] = ev
                S.raw_events.pop(ev["id"], None)
                out = ev
                notes.append(("EVENT", "PUT" if existing else "POST", ev))
            elif self.path == "/delete_event":
                ev = S.events.pop(body["id"], None)
                S.raw_events.pop(body["id"], None)
                out = ev or {}
                if ev:
                    notes.append(("EVENT", "DELETE", ev))
            elif self.path == "/raw_event":
                S.raw_events[body["id"]] = (body["programID"], body["text"])
            elif self.path == "/fail":
                S.failures.append(body)
            elif self.path == "/expire_tokens":
                S.tokens.clear()
            elif self.path == "/spec":
                S.spec = body["version"]
                S.token_url = body.get("token_url", "")
            elif self.path == "/etags":
                S.etags = bool(body.get("on"))
            elif self.path == "/clear_requests":
                S.requests.clear()
            elif self.path == "/down":
                Control.api.down()
            elif self.path == "/up":
                Control.api.up()
            else:
                return self.reply(404, {})
        for n_ in notes:
            notify(*n_)
        self.reply(200, out)


class TrackingServer(ThreadingHTTPServer):
    """Remembers its open connections, so an outage can cut kept-alive ones too."""
    daemon_threads = True

    def __init__(self, *args, **kwargs):
        self.conns = set()
        super().__init__(*args, **kwargs)

    def get_request(self):
        sock, addr = super().get_request()
        with LOCK:
            self.conns.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with LOCK:
            self.conns.discard(request)
        super().shutdown_request(request)

    def cut_all(self):
        with LOCK:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class ApiServer:
    """The API listener; down() closes the port and cuts open connections (the VTN is gone:
    connections are refused), up() reopens it on the same port."""

    def __init__(self, port):
        self.port = port
        self.server = None
        self.thread = None
        self.up()

    def up(self):
        if self.server:
            return
        self.server = TrackingServer(("127.0.0.1", self.port), Api)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def down(self):
        if not self.server:
            return
        srv, self.server = self.server, None
        srv.shutdown()
        srv.server_close()
        srv.cut_all()
        # Wait until the port refuses connections, so the caller sees the outage at once.
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.05):
                    pass
                time.sleep(0.01)
            except OSError:
                return


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    api = ApiServer(args.port)
    Control.api = api
    ctl = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    ctl.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (api.port, ctl.server_address[1]))
    import os
    os.replace(args.port_file + ".tmp", args.port_file)
    ctl.serve_forever()


if __name__ == "__main__":
    main()
