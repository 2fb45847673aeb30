"""The live stream's reconnect in the browser (web/stream.js): the server
stops under an open page, posts are written while it is away, it comes back;
the page resumes with `since` and shows what it missed, or, when the resume
point was pruned meanwhile, gets `reset` and reloads over REST."""

import os
import signal
import subprocess
import time
import urllib.request

from helpers import BrowserTest, create_user, http, unique

DB = os.environ["PAMPS_DB__URI"]
PIDFILE = os.environ["PAMPS_SERVER_PIDFILE"]
BACK = 30  # seconds: the client's backoff after a few failed tries


def psql(sql):
    return subprocess.run(["psql", DB, "-XqAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


# The server this module started, if any (a child must be waited for).
started = []


def stop_server():
    """SIGTERM, as a deploy does; waits for the exit."""
    if started:
        proc = started.pop()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        return
    with open(PIDFILE) as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the server did not stop within 20 s of SIGTERM")


def start_server():
    """Starts the server as scripts/browser-tests.sh did, and waits for /ready."""
    with open(os.environ["PAMPS_SERVER_LOG"], "ab") as log:
        proc = subprocess.Popen([os.environ["PAMPS_BIN"], "serve"], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    started.append(proc)
    with open(PIDFILE, "w") as f:
        f.write(str(proc.pid))
    base = f"http://{os.environ['PAMPS_SERVER__HOST']}:{os.environ['PAMPS_SERVER__PORT']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited at startup (see server.log)"
        try:
            urllib.request.urlopen(base + "/ready", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server was not ready within 30 s")


def write_post(user_id, text):
    """A post written while the server is away (the outbox numbers it later)."""
    psql(f"INSERT INTO posts (user_id, text) VALUES ({int(user_id)}, '{text}')")


class ReconnectTest(BrowserTest):
    def live_state(self, d):
        return d.execute_script("return document.documentElement.dataset.live")

    def test_the_page_shows_what_it_missed_while_the_server_was_away(self):
        writer_name, reader_name = unique("wri"), unique("rea")
        writer, writer_token = create_user(writer_name)
        reader, reader_token = create_user(reader_name)
        status, _, _ = http("POST", f"/user/follow/{writer['id']}", token=reader_token)
        self.assertEqual(status, 201)
        d = self.driver()
        self.login(d, reader_name)
        self.wait(d).until(lambda drv: self.live_state(drv) == "live")

        # A post while connected: the page has an event id to resume from.
        first = f"before the restart {unique('')}"
        status, _, _ = http("POST", "/post/", {"text": first}, writer_token)
        self.assertEqual(status, 201)
        self.wait_text(d, "button.new-posts", "Show 1 new post")

        stop_server()
        self.wait(d).until(lambda drv: self.live_state(drv) == "reconnecting")
        missed = f"written while the server was away {unique('')}"
        write_post(writer["id"], missed)
        start_server()
        self.wait(d, BACK).until(lambda drv: self.live_state(drv) == "live")
        self.wait_text(d, "button.new-posts", "Show 2 new posts", timeout=BACK)
        self.find(d, "button.new-posts").click()
        self.wait_text(d, "section.list", missed)
        self.wait_text(d, "section.list", first)

        # Away again, and this time the resume point is pruned meanwhile.
        stop_server()
        self.wait(d).until(lambda drv: self.live_state(drv) == "reconnecting")
        gone = f"written after the resume point was pruned {unique('')}"
        psql("SELECT setval('events_pos_seq', nextval('events_pos_seq') + 1);"
             "UPDATE events_pruned SET up_to = (SELECT last_value FROM events_pos_seq)")
        write_post(writer["id"], gone)
        start_server()
        self.wait(d, BACK).until(lambda drv: self.live_state(drv) == "live")
        # The reset reloads the timeline over REST: the post is in the list.
        self.wait_text(d, "section.list", gone, timeout=BACK)
        self.screenshot(d, "reconnect-after-reset.png")
