"""The Mastodon.py scenario (issue 18, "How it is tested"): one run of the
real Mastodon.py library against a live pamps over every group of the
Mastodon API: app and login (password grant, and an authorization code
obtained through the consent call the web client makes), a post with a
picture and a hashtag, reply, favourite, reblog, bookmark, follow,
home/public/tag timelines with paging, notifications and markers, search,
block and mute, edit and delete, and a live stream receiving an update and
a notification.

Every JSON response Mastodon.py receives is validated against the entity
schemas in ./schemas (draft 2020-12) by a hook on its HTTP session, before
Mastodon.py parses it.

    PAMPS_URL=http://127.0.0.1:8000 target/mastodon-venv/bin/python tests/mastodon/scenario_mastodon_py.py

Needs Mastodon.py and jsonschema (scripts/mastodon-clients.sh installs them).
"""

import base64
import json
import os
import random
import re
import string
import sys
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

import requests
from jsonschema import Draft202012Validator
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError, MastodonUnauthorizedError
from mastodon.streaming import StreamListener
from referencing import Registry, Resource

BASE = os.environ.get("PAMPS_URL", "http://127.0.0.1:8000").rstrip("/")
OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]
RUN = "".join(random.choices(string.ascii_lowercase, k=6))
HERE = Path(__file__).resolve().parent
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

# --- every response against its entity's schema ---------------------------------

SCHEMAS = {}
resources = []
for path in sorted((HERE / "schemas").glob("*.json")):
    doc = json.loads(path.read_text())
    SCHEMAS[path.stem] = doc
    resources.append((doc["$id"], Resource.from_contents(doc)))
REGISTRY = Registry().with_resources(resources)

# (method, path pattern, entity, shape): shape is "one", "list" or "map".
SHAPES = [
    ("GET", r"/api/v1/accounts/verify_credentials", "CredentialAccount", "one"),
    ("PATCH", r"/api/v1/accounts/update_credentials", "CredentialAccount", "one"),
    ("GET", r"/api/v1/accounts/relationships", "Relationship", "list"),
    ("GET", r"/api/v1/accounts/search", "Account", "list"),
    ("GET", r"/api/v1/accounts/lookup", "Account", "one"),
    ("POST", r"/api/v1/accounts/\d+/(follow|unfollow|block|unblock|mute|unmute)", "Relationship", "one"),
    ("GET", r"/api/v1/accounts/\d+/statuses", "Status", "list"),
    ("GET", r"/api/v1/accounts/\d+/(followers|following)", "Account", "list"),
    ("GET", r"/api/v1/accounts/\d+", "Account", "one"),
    ("GET", r"/api/v1/(blocks|mutes)", "Account", "list"),
    ("POST", r"/api/v1/statuses", "Status", "one"),
    ("GET", r"/api/v1/statuses/\d+/context", "Context", "one"),
    ("GET", r"/api/v1/statuses/\d+/history", "StatusEdit", "list"),
    ("GET", r"/api/v1/statuses/\d+/source", "StatusSource", "one"),
    ("GET", r"/api/v1/statuses/\d+/(favourited_by|reblogged_by)", "Account", "list"),
    ("POST", r"/api/v1/statuses/\d+/(un)?(favourite|reblog|bookmark)", "Status", "one"),
    ("GET", r"/api/v1/statuses/\d+", "Status", "one"),
    ("PUT", r"/api/v1/statuses/\d+", "Status", "one"),
    ("DELETE", r"/api/v1/statuses/\d+", "Status", "one"),
    ("GET", r"/api/v1/(favourites|bookmarks)", "Status", "list"),
    ("GET", r"/api/v1/timelines/(home|public|tag/[^/]+)", "Status", "list"),
    ("GET", r"/api/v1/notifications", "Notification", "list"),
    ("GET", r"/api/v1/notifications/\d+", "Notification", "one"),
    ("POST", r"/api/v(1|2)/media", "MediaAttachment", "one"),
    ("GET", r"/api/v1/media/\d+", "MediaAttachment", "one"),
    ("PUT", r"/api/v1/media/\d+", "MediaAttachment", "one"),
    ("GET", r"/api/v2/search", "Search", "one"),
    ("GET", r"/api/v1/markers", "Marker", "map"),
    ("POST", r"/api/v1/markers", "Marker", "map"),
    ("GET", r"/api/v1/instance", "V1_Instance", "one"),
    ("GET", r"/api/v2/instance", "Instance", "one"),
    ("POST", r"/api/v1/apps", "Application", "one"),
    ("GET", r"/api/v1/apps/verify_credentials", "Application", "one"),
    ("POST", r"/oauth/token", "Token", "one"),
]

checked = 0
unchecked = set()


def validate(response, *args, **kwargs):
    """A requests hook: checks a successful JSON response of this server."""
    global checked
    request = response.request
    url = urllib.parse.urlsplit(request.url)
    if not request.url.startswith(BASE) or not response.ok:
        return
    if "json" not in response.headers.get("content-type", ""):
        return
    body = response.json()
    path = url.path.rstrip("/")
    shape = next((s for s in SHAPES if s[0] == request.method and re.fullmatch(s[1], path)), None)
    if shape is None:
        unchecked.add(f"{request.method} {re.sub(r'/[0-9]+', '/:id', path)}")
        return
    _, _, name, many = shape
    schema = SCHEMAS.get(name)
    if schema is None:
        unchecked.add(f"{request.method} {re.sub(r'/[0-9]+', '/:id', path)} (no {name}.json)")
        return
    items = list(body.values()) if many == "map" else body if many == "list" else [body]
    assert isinstance(items, list), f"{request.method} {url.path}: expected a list, got {body!r}"
    validator = Draft202012Validator(schema, registry=REGISTRY)
    for item in items:
        errors = sorted(validator.iter_errors(item), key=lambda e: list(e.path))
        if errors:
            detail = "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
            raise AssertionError(f"{request.method} {path}: not a {name}: {detail}\n{json.dumps(item)[:2000]}")
        checked += 1


def session():
    s = requests.Session()
    s.hooks["response"].append(validate)
    return s


# --- helpers -------------------------------------------------------------------------

steps = []


def step(name):
    def run(fn):
        started = time.monotonic()
        try:
            fn()
        except Exception:
            steps.append((name, "FAIL"))
            print(f"FAIL {name}")
            traceback.print_exc()
            raise SystemExit(1)
        steps.append((name, "ok"))
        print(f"ok   {name} ({(time.monotonic() - started) * 1000:.0f} ms)")
        return fn

    return run


def client(token=None, **kwargs):
    return Mastodon(
        access_token=token,
        api_base_url=BASE,
        session=session(),
        version_check_mode="created",
        **kwargs,
    )


def expect(error, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except error:
        return
    raise AssertionError(f"expected {error}")


def pamps_token(username, password):
    """A pamps access token (the web client's session)."""
    r = requests.post(f"{BASE}/token", data={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    return r.json()["access_token"]


# --- the scenario --------------------------------------------------------------------

S = {}


@step("app: register an app, read the instance")
def _():
    S["client_id"], S["client_secret"] = Mastodon.create_app(
        f"Mastodon.py scenario {RUN}", scopes=SCOPES, redirect_uris=OOB,
        website="https://example.com/", api_base_url=BASE, session=session(),
    )
    anon = client()
    assert anon.retrieve_mastodon_version() == "4.3.0", anon.retrieve_mastodon_version()
    v2 = anon.instance_v2()
    assert v2.configuration.statuses.max_characters == 280
    assert anon.instance_rules()
    assert anon.custom_emojis() == []
    S["anon"] = anon


@step("login: sign up, the password grant (e-mail as username), an authorization code")
def _():
    for name in ("ana", "bob"):
        username = f"{name}_{RUN}"
        r = requests.post(f"{BASE}/user/", json={
            "email": f"{username}@example.com", "username": username, "password": f"{name}-long-password",
        }, timeout=10)
        assert r.status_code == 201, r.text
    ana = client(client_id=S["client_id"], client_secret=S["client_secret"])
    ana.log_in(f"ana_{RUN}@example.com", "ana-long-password", scopes=SCOPES, allow_http=True)
    S["ana"] = ana
    # bob: the code the consent page gets (its own pamps session), then the code grant.
    web = pamps_token(f"bob_{RUN}", "bob-long-password")
    r = requests.post(f"{BASE}/oauth/consent", headers={"Authorization": f"Bearer {web}"}, json={
        "client_id": S["client_id"], "redirect_uri": OOB, "scope": " ".join(SCOPES), "approve": True,
    }, timeout=10)
    assert r.status_code == 200, r.text
    bob = client(client_id=S["client_id"], client_secret=S["client_secret"])
    bob.log_in(code=r.json()["code"], redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    S["bob"] = bob
    S["ana_me"] = ana.me()
    S["bob_me"] = bob.me()
    assert S["ana_me"].username == f"ana_{RUN}"
    assert bob.app_verify_credentials().name == f"Mastodon.py scenario {RUN}"
    expect(MastodonUnauthorizedError, client("not-a-token").me)


@step("statuses: a post with a picture and a hashtag")
def _():
    ana = S["ana"]
    media = ana.media_post(PNG, mime_type="image/png", description="one pixel", file_name="pixel.png")
    status = ana.status_post(f"hello #pamps{RUN} from Mastodon.py", media_ids=[media])
    assert status.media_attachments[0].description == "one pixel"
    assert status.tags[0].name == f"pamps{RUN}"
    assert f"#<span>pamps{RUN}</span>" in status.content or f"pamps{RUN}" in status.content
    S["post"] = status


@step("follow: bob follows ana")
def _():
    bob = S["bob"]
    rel = bob.account_follow(S["ana_me"].id)
    assert rel.following
    assert bob.account_relationships([S["ana_me"].id])[0].following
    assert [a.id for a in S["ana"].account_followers(S["ana_me"].id)] == [S["bob_me"].id]


@step("statuses: reply, favourite, reblog, bookmark")
def _():
    bob, post = S["bob"], S["post"]
    reply = bob.status_post(f"@ana_{RUN} nice", in_reply_to_id=post.id)
    assert reply.in_reply_to_id == post.id
    assert bob.status_favourite(post.id).favourited
    assert bob.status_reblog(post.id).reblog.id == post.id
    assert bob.status_bookmark(post.id).bookmarked
    assert [s.id for s in bob.bookmarks()] == [post.id]
    assert [s.id for s in bob.favourites()] == [post.id]
    assert [a.id for a in S["ana"].status_favourited_by(post.id)] == [S["bob_me"].id]
    context = S["ana"].status_context(post.id)
    assert [s.id for s in context.descendants] == [reply.id]
    S["reply"] = reply


@step("timelines: home, public and tag with paging")
def _():
    ana = S["ana"]
    for i in range(3):
        ana.status_post(f"page {i} #pamps{RUN}")
    home = ana.timeline_home(limit=2)
    assert len(home) == 2
    older = ana.fetch_next(home)
    assert older and older[0].id < home[-1].id, (home, older)
    newer = ana.timeline_home(since_id=home[-1].id)
    assert [s.id for s in newer] == [home[0].id]
    public = S["anon"].timeline_public(limit=40)
    assert S["post"].id in [s.id for s in public]
    tagged = S["anon"].timeline_hashtag(f"pamps{RUN}", limit=2)
    assert len(tagged) == 2
    assert S["anon"].fetch_next(tagged)


@step("notifications and markers")
def _():
    ana = S["ana"]
    notes = ana.notifications()
    types = {n.type for n in notes}
    assert {"follow", "favourite", "reblog", "mention"} <= types, types
    follows = ana.notifications(types=["follow"])
    assert [n.type for n in follows] == ["follow"]
    one = ana.notifications(id=follows[0].id)
    assert one.account.id == S["bob_me"].id
    newest = notes[0].id
    ana.markers_set(["notifications"], [newest])
    markers = ana.markers_get(["notifications", "home"])
    assert str(markers.notifications.last_read_id) == str(newest)
    ana.notifications_dismiss(follows[0].id)
    assert follows[0].id not in [n.id for n in ana.notifications()]


@step("search: accounts, statuses and hashtags")
def _():
    found = S["bob"].search_v2(f"ana_{RUN}", result_type="accounts")
    assert found.accounts[0].id == S["ana_me"].id, found.accounts
    found = S["bob"].search_v2(f"#pamps{RUN}", result_type="hashtags")
    assert found.hashtags and found.hashtags[0].name == f"pamps{RUN}"


@step("streaming: an update and a notification arrive live")
def _():
    ana, bob = S["ana"], S["bob"]
    got = {"update": threading.Event(), "notification": threading.Event()}

    class Listener(StreamListener):
        def on_update(self, status):
            if status.content and f"live {RUN}" in status.content:
                got["update"].set()

        def on_notification(self, notification):
            if notification.type == "favourite":
                got["notification"].set()

    handle = ana.stream_user(Listener(), run_async=True, reconnect_async=False)
    try:
        time.sleep(1.0)
        mine = ana.status_post(f"live {RUN}, like it")
        bob.status_favourite(mine.id)
        assert got["update"].wait(10), "no update arrived"
        assert got["notification"].wait(10), "no notification arrived"
    finally:
        handle.close()


@step("block and mute")
def _():
    ana, bob = S["ana"], S["bob"]
    assert ana.account_mute(S["bob_me"].id).muting
    assert [a.id for a in ana.mutes()] == [S["bob_me"].id]
    assert not ana.account_unmute(S["bob_me"].id).muting
    assert ana.account_block(S["bob_me"].id).blocking
    assert [a.id for a in ana.blocks()] == [S["bob_me"].id]
    assert not ana.account_relationships([S["bob_me"].id])[0].following
    assert not ana.account_unblock(S["bob_me"].id).blocking


@step("edit and delete")
def _():
    ana, post = S["ana"], S["post"]
    edited = ana.status_update(post.id, f"edited #pamps{RUN}")
    assert "edited" in edited.content and edited.edited_at
    assert len(ana.status_history(post.id)) >= 2
    assert ana.status_source(post.id).text == f"edited #pamps{RUN}"
    deleted = ana.status_delete(post.id)
    assert deleted.text == f"edited #pamps{RUN}"
    expect(MastodonNotFoundError, ana.status, post.id)


@step("tokens: revoked ones stop working")
def _():
    ana = S["ana"]
    ana.revoke_access_token(allow_http=True)
    expect((MastodonUnauthorizedError, MastodonAPIError), ana.me)


print(f"mastodon.py scenario: {len(steps)} steps ok, {checked} entities validated")
if unchecked:
    print("not validated (no schema for these responses): " + ", ".join(sorted(unchecked)))
