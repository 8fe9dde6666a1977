"""A throwaway Prosody on loopback and real XMPP occupants (slixmpp) for end-to-end tests.

Used by the pytest suite (conftest.py) and by `make demo`. Everything lives in one temp dir;
the server runs in the foreground as our child and dies with us (pdeathsig) or on stop().
"""

import asyncio
import http.client
import inspect
import json
import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import xml.etree.ElementTree as ET

import slixmpp

MUC_USER = "http://jabber.org/protocol/muc#user"
# Which Prosody to run: Debian's by default; PROSODY/PROSODYCTL select another build.
PROSODY = os.environ.get("PROSODY", "prosody")
PROSODYCTL = os.environ.get("PROSODYCTL", "prosodyctl")
HERE = os.path.dirname(os.path.abspath(__file__))
# Plain TCP on loopback, the two ways: slixmpp 1.8 (Debian 12) takes connect(address,
# force_starttls=, disable_starttls=); 1.9 and later (Debian 13: 1.10) take connect(host, port)
# with enable_* attributes, and refuse SCRAM on an unencrypted stream unless told (1.8 allows it).
SLIXMPP_CONNECT_ARGS = "force_starttls" in inspect.signature(slixmpp.ClientXMPP.connect).parameters
PLAIN_SCRAM = {"feature_mechanisms": {"unencrypted_scram": True}}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prosody exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} did not open")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


class Prosody:
    """A Prosody started from `components` (a config fragment), with `plugin_dir` on its path.

    `components` may use {muc_opts} style placeholders of its own; it is inserted verbatim.
    """

    def __init__(self, plugin_dir, components, extra_global="", users=(), keep_dir=None):
        self.dir = keep_dir or tempfile.mkdtemp(prefix="http_muc_kick_e2e.")
        self.c2s_port = free_port()
        self.http_port = free_port()
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.dir, "prosody.log")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "certs"), exist_ok=True)
        with open(self.config, "w") as f:
            f.write(textwrap.dedent(f"""\
                run_as_root = true
                daemonize = false
                pidfile = "{self.dir}/prosody.pid"
                data_path = "{self.dir}/data"
                certificates = "{self.dir}/certs"
                admin_socket = "{self.dir}/admin.sock"
                log = {{ debug = "{self.log_path}" }}
                plugin_paths = {{ "{os.path.abspath(plugin_dir)}", "{HERE}/plugins" }}
                interfaces = {{ "127.0.0.1" }}
                local_interfaces = {{ "127.0.0.1" }}
                c2s_ports = {{ {self.c2s_port} }}
                c2s_interfaces = {{ "127.0.0.1" }}
                http_ports = {{ {self.http_port} }}
                http_interfaces = {{ "127.0.0.1" }}
                https_ports = {{}}
                s2s_ports = {{}}
                component_ports = {{}}
                c2s_require_encryption = false
                allow_unencrypted_plain_auth = true
                authentication = "internal_hashed"
                statistics = "internal"
                modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "http"; "http_openmetrics"; "admin_shell" }}
                modules_disabled = {{ "s2s"; "tls" }}
                {extra_global}
                VirtualHost "localhost"
            """) + textwrap.dedent(components))
        for user, password in users:
            self.prosodyctl("register", user, "localhost", password)
        self.proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "TERM", PROSODY, "--config", self.config, "-F"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.c2s_port, self.proc)
            wait_for_port(self.http_port, self.proc)
        except Exception:
            self.stop()
            raise

    def prosodyctl(self, *args):
        return subprocess.run([PROSODYCTL, "--config", self.config, *args],
                              check=True, capture_output=True, text=True, timeout=60).stdout

    def shell(self, command):
        return self.prosodyctl("shell", command)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def request(self, method, body=b"", headers=None, host="muc.localhost", path="/muc_kick"):
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=15)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", host)
            # headers: a dict, or a list of (name, value) pairs to send a header more than once
            pairs = headers.items() if hasattr(headers, "items") else (headers or ())
            for name, value in pairs:
                conn.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data.decode("utf-8", "replace"))
        finally:
            conn.close()

    def stop(self):
        if getattr(self, "proc", None) and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class XmppLoop:
    """One asyncio loop in a background thread that all test clients share."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=15):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        async def cancel_all():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_all(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class Occupant(slixmpp.ClientXMPP):
    """A real XMPP client that joins one room and records every presence it receives."""

    def __init__(self, jid, password):
        super().__init__(jid, password, plugin_config=PLAIN_SCRAM)
        self.presences = []
        self.changed = asyncio.Event()
        self.add_event_handler("presence", self._on_presence)

    def _on_presence(self, presence):
        self.presences.append(ET.fromstring(str(presence)))
        self.changed.set()

    async def start(self, port):
        started = asyncio.Event()
        self.add_event_handler("session_start", lambda _: started.set())
        self.add_event_handler("failed_auth", lambda _: started.set())
        if SLIXMPP_CONNECT_ARGS:
            self.connect(("127.0.0.1", port), force_starttls=False, disable_starttls=True)
        else:
            self.enable_starttls = self.enable_direct_tls = False
            self.enable_plaintext = True
            self.connect("127.0.0.1", port)
        await asyncio.wait_for(started.wait(), 10)
        if not self.authenticated:
            raise RuntimeError(f"{self.boundjid} could not log in")
        self.send_presence()
        return self

    async def join(self, room, nick):
        occupant = f"{room}/{nick}"
        presence = self.make_presence(pto=occupant)
        presence.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        presence.send()
        await self.wait_for(lambda p: p.get("from") == occupant and p.get("type") is None
                            and has_status(p, "110"))
        return self

    async def wait_for(self, predicate, timeout=10):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for p in self.presences:
                if predicate(p):
                    return p
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"{self.boundjid}: no matching presence among {len(self.presences)}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def stop(self):
        self.disconnect()


def muc_user(presence):
    return presence.find(f"{{{MUC_USER}}}x")


def has_status(presence, code):
    x = muc_user(presence)
    return x is not None and any(s.get("code") == code for s in x.findall(f"{{{MUC_USER}}}status"))


def kick_presence_from(occupant_jid):
    """A predicate for the unavailable presence with status 307 from `occupant_jid`."""
    return lambda p: (p.get("from") == occupant_jid and p.get("type") == "unavailable"
                      and has_status(p, "307"))


def kick_details(presence):
    """(role, reason text or None, whether a <reason> element is present) of a kick presence."""
    item = muc_user(presence).find(f"{{{MUC_USER}}}item")
    reason = item.find(f"{{{MUC_USER}}}reason")
    return item.get("role"), (reason.text if reason is not None else None), reason is not None
