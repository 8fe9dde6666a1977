"""`make demo`: a throwaway Prosody with the module, Bob in a room, and the curl line that kicks him.

Usage: demo.py PLUGIN_DIR. Runs in the foreground until Ctrl-C; everything is in a temp dir
that is removed on exit.
"""

import secrets
import shlex
import sys

from harness import Occupant, Prosody, XmppLoop, kick_details, kick_presence_from

ROOM = "snuggery@muc.localhost"


def curl_line(port, token, body):
    return (f"curl -i -H 'Host: muc.localhost' -H {shlex.quote('Authorization: ' + token)} "
            f"--data {shlex.quote(body)} http://127.0.0.1:{port}/muc_kick")


def main(plugin_dir):
    token = "Bearer " + secrets.token_hex(16)
    server = Prosody(plugin_dir, f'''
        Component "muc.localhost" "muc"
            modules_enabled = {{ "http_muc_kick" }}
            muc_room_locking = false
            http_muc_kick_authorization_header = "{token}"
        ''', users=[("bob", "bob-demo-pw")])
    xmpp = XmppLoop()
    try:
        bob = xmpp.run(Occupant("bob@localhost/demo", "bob-demo-pw").start(server.c2s_port))
        print(f"\nProsody {server.c2s_port}/c2s, {server.http_port}/http on 127.0.0.1; log: {server.log_path}")
        print(f"Bob (bob@localhost) is in {ROOM}. Kick him:\n")
        print("  " + curl_line(server.http_port, token,
                               f'{{"muc": "{ROOM}", "nickname": "Bob", "reason": "Demo kick"}}'))
        print("\nAlso try a wrong token (401), \"nickname\": \"Alice\" (404), or a GET (405).")
        print("After 10 wrong tokens in a minute, every request gets 429 for up to 60 s.")
        print("Ctrl-C stops the server and removes its files.\n")
        while True:
            bob.presences.clear()
            xmpp.run(bob.join(ROOM, "Bob"))
            kick = xmpp.run(bob.wait_for(kick_presence_from(f"{ROOM}/Bob"), timeout=10**6), timeout=None)
            role, reason, _ = kick_details(kick)
            said = f"reason {reason!r}" if reason is not None else "no reason"
            print(f"Bob received the kick: presence unavailable, status 307, role {role}, "
                  f"{said}. He rejoins so you can kick him again.", flush=True)
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        xmpp.close()
        server.cleanup()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: demo.py PLUGIN_DIR")
    main(sys.argv[1])
