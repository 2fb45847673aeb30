// The masto.js scenario (issue 18, "How it is tested"): one run of a real
// Mastodon client library against a live pamps, over every group of the
// Mastodon API: app and login, a post with a picture and a hashtag, reply,
// favourite, reblog, bookmark, follow, home/public/tag timelines with
// paging, notifications and markers, search, block and mute, edit and
// delete, and a live stream receiving an update and a notification.
//
// Every JSON response the client receives is validated against the entity
// schemas in ./schemas (draft 2020-12) by a fetch wrapper, before masto.js
// turns it into camelCase objects.
//
//   PAMPS_URL=http://127.0.0.1:8000 node --experimental-websocket scenario_masto.mjs
//
// Needs `npm ci` in this directory (the harness, scripts/mastodon-clients.sh,
// installs masto and ajv from npm). Node 22 has WebSocket built in; on Node
// 20, --experimental-websocket provides it.

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

import Ajv2020 from "ajv/dist/2020.js";
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";

// masto.js 8 targets Node 22; Node 20 lacks this one helper it uses.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject;
  const promise = new this((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
};

const BASE = (process.env.PAMPS_URL || "http://127.0.0.1:8000").replace(/\/$/, "");
const OOB = "urn:ietf:wg:oauth:2.0:oob";
const SCOPES = "read write follow push";
const HERE = dirname(fileURLToPath(import.meta.url));
const RUN = Math.random().toString(36).slice(2, 8);

// --- every response against its entity's schema --------------------------------

const ajv = new Ajv2020({ allErrors: true, strict: false });
for (const file of readdirSync(join(HERE, "schemas")).filter((f) => f.endsWith(".json"))) {
  ajv.addSchema(JSON.parse(readFileSync(join(HERE, "schemas", file), "utf8")));
}
const schema = (name) => ajv.getSchema(`https://pamps.test/schemas/${name}.json`);

/** [method, path pattern, entity, is a list] for the responses with a schema. */
const SHAPES = [
  ["GET", /^\/api\/v1\/accounts\/verify_credentials$/, "CredentialAccount"],
  ["PATCH", /^\/api\/v1\/accounts\/update_credentials$/, "CredentialAccount"],
  ["GET", /^\/api\/v1\/accounts\/relationships$/, "Relationship", true],
  ["GET", /^\/api\/v1\/accounts\/search$/, "Account", true],
  ["GET", /^\/api\/v1\/accounts\/lookup$/, "Account"],
  ["POST", /^\/api\/v1\/accounts\/\d+\/(follow|unfollow|block|unblock|mute|unmute)$/, "Relationship"],
  ["GET", /^\/api\/v1\/accounts\/\d+\/statuses$/, "Status", true],
  ["GET", /^\/api\/v1\/accounts\/\d+\/(followers|following)$/, "Account", true],
  ["GET", /^\/api\/v1\/accounts\/\d+$/, "Account"],
  ["GET", /^\/api\/v1\/(blocks|mutes)$/, "Account", true],
  ["POST", /^\/api\/v1\/statuses$/, "Status"],
  ["GET", /^\/api\/v1\/statuses\/\d+\/context$/, "Context"],
  ["GET", /^\/api\/v1\/statuses\/\d+\/history$/, "StatusEdit", true],
  ["GET", /^\/api\/v1\/statuses\/\d+\/source$/, "StatusSource"],
  ["GET", /^\/api\/v1\/statuses\/\d+\/(favourited_by|reblogged_by)$/, "Account", true],
  ["POST", /^\/api\/v1\/statuses\/\d+\/(un)?(favourite|reblog|bookmark)$/, "Status"],
  ["GET", /^\/api\/v1\/statuses\/\d+$/, "Status"],
  ["PUT", /^\/api\/v1\/statuses\/\d+$/, "Status"],
  ["DELETE", /^\/api\/v1\/statuses\/\d+$/, "Status"],
  ["GET", /^\/api\/v1\/(favourites|bookmarks)$/, "Status", true],
  ["GET", /^\/api\/v1\/timelines\/(home|public|tag\/[^/]+)$/, "Status", true],
  ["GET", /^\/api\/v1\/notifications$/, "Notification", true],
  ["GET", /^\/api\/v1\/notifications\/\d+$/, "Notification"],
  ["POST", /^\/api\/v(1|2)\/media$/, "MediaAttachment"],
  ["GET", /^\/api\/v1\/media\/\d+$/, "MediaAttachment"],
  ["PUT", /^\/api\/v1\/media\/\d+$/, "MediaAttachment"],
  ["GET", /^\/api\/v2\/search$/, "Search"],
  ["GET", /^\/api\/v1\/markers$/, "Marker", "map"],
  ["POST", /^\/api\/v1\/markers$/, "Marker", "map"],
  ["GET", /^\/api\/v1\/instance$/, "V1_Instance"],
  ["GET", /^\/api\/v2\/instance$/, "Instance"],
  ["POST", /^\/api\/v1\/apps$/, "Application"],
  ["POST", /^\/api\/v1\/accounts$/, "Token"],
  ["POST", /^\/oauth\/token$/, "Token"],
];

let checked = 0;
const unchecked = new Set();

function validate(method, path, body) {
  const shape = SHAPES.find(([m, re]) => m === method && re.test(path));
  if (!shape) {
    unchecked.add(`${method} ${path.replace(/\/\d+(?=\/|$)/g, "/:id")}`);
    return;
  }
  const [, , name, many] = shape;
  const check = schema(name);
  if (!check) {
    unchecked.add(`${method} ${path.replace(/\/\d+(?=\/|$)/g, "/:id")} (no ${name}.json yet)`);
    return;
  }
  const items = many === "map" ? Object.values(body) : many ? body : [body];
  assert.ok(Array.isArray(items), `${method} ${path}: expected a list, got ${JSON.stringify(body)}`);
  for (const item of items) {
    if (!check(item)) {
      throw new Error(
        `${method} ${path}: not a ${name}: ${ajv.errorsText(check.errors)}\n${JSON.stringify(item, null, 1)}`,
      );
    }
    checked += 1;
  }
}

const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const request = new Request(input, init);
  const response = await realFetch(request);
  const url = new URL(request.url);
  const type = response.headers.get("content-type") || "";
  if (response.ok && type.includes("json") && url.origin === new URL(BASE).origin) {
    const body = await response.clone().json();
    validate(request.method, url.pathname, body);
  }
  return response;
};

// --- helpers ----------------------------------------------------------------------

const steps = [];
/** Runs one group; a failure is reported and the run goes on (later groups
 * mostly stand alone), and the exit status says whether all passed. */
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    steps.push([name, "ok", Date.now() - started]);
    console.log(`ok   ${name}`);
  } catch (e) {
    steps.push([name, "FAIL", Date.now() - started]);
    const why = e?.statusCode ? `HTTP ${e.statusCode} ${e.message}` : String(e?.stack || e);
    console.log(`FAIL ${name}\n     ${why.split("\n").slice(0, 6).join("\n     ")}`);
  }
}

/** A 1x1 PNG. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

/** Resolves with the first event of `stream` that `match` accepts, within `ms`. */
async function nextEvent(subscription, match, ms = 10000) {
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`no matching event within ${ms} ms`)), ms),
  );
  const wait = (async () => {
    for await (const event of subscription) {
      if (match(event)) return event;
    }
    throw new Error("the stream ended");
  })();
  return Promise.race([wait, timeout]);
}

async function expectHttpError(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.statusCode, status, `expected ${status}, got ${e.statusCode}: ${e.message}`);
    return e;
  }
  throw new Error(`expected HTTP ${status}, the call succeeded`);
}

// --- the scenario -------------------------------------------------------------------

const oauth = createOAuthAPIClient({ url: BASE });
const anon = createRestAPIClient({ url: BASE });
let app, ana, bob, anaMe, bobMe, anaCreds, bobCreds, anaAccess, bobAccess;

await step("app: register an app and get its own token", async () => {
  app = await anon.v1.apps.create({ clientName: `masto scenario ${RUN}`, redirectUris: OOB, scopes: SCOPES });
  assert.ok(app.clientId && app.clientSecret);
  const instance = await anon.v2.instance.fetch();
  assert.ok(instance.configuration.statuses.maxCharacters >= 280);
});

await step("app: sign up two accounts, log in with the password grant", async () => {
  const appToken = await oauth.token.create({
    grantType: "client_credentials", clientId: app.clientId, clientSecret: app.clientSecret,
    redirectUri: OOB, scope: SCOPES,
  });
  const asApp = createRestAPIClient({ url: BASE, accessToken: appToken.accessToken });
  anaCreds = { username: `ana_${RUN}`, email: `ana_${RUN}@example.com`, password: "ana's long password" };
  bobCreds = { username: `bob_${RUN}`, email: `bob_${RUN}@example.com`, password: "bob's long password" };
  await asApp.v1.accounts.create({ ...anaCreds, agreement: true, locale: "en" });
  const bobToken = await asApp.v1.accounts.create({ ...bobCreds, agreement: true, locale: "en" });
  const anaToken = await oauth.token.create({
    grantType: "password", clientId: app.clientId, clientSecret: app.clientSecret,
    redirectUri: OOB, scope: SCOPES, username: anaCreds.email, password: anaCreds.password,
  });
  anaAccess = anaToken.accessToken;
  bobAccess = bobToken.accessToken;
  ana = createRestAPIClient({ url: BASE, accessToken: anaAccess });
  bob = createRestAPIClient({ url: BASE, accessToken: bobAccess });
  anaMe = await ana.v1.accounts.verifyCredentials();
  bobMe = await bob.v1.accounts.verifyCredentials();
  assert.equal(anaMe.username, anaCreds.username);
  assert.equal(bobMe.acct, bobCreds.username);
  await expectHttpError(
    createRestAPIClient({ url: BASE, accessToken: "not-a-token" }).v1.accounts.verifyCredentials(),
    401,
  );
});

await step("accounts: update credentials with a display name, a note and an avatar", async () => {
  const updated = await ana.v1.accounts.updateCredentials({
    displayName: "Ana of pamps",
    note: "Writes <code> & #things",
    avatar: new Blob([PNG], { type: "image/png" }),
  });
  assert.equal(updated.displayName, "Ana of pamps");
  assert.equal(updated.source.note, "Writes <code> & #things");
  assert.match(updated.note, /&lt;code&gt; &amp; /);
  assert.match(updated.avatar, /\/media\/files\//);
  const looked = await bob.v1.accounts.lookup({ acct: anaCreds.username });
  assert.equal(looked.id, anaMe.id);
});

let first, reply;
const TAG = `scenario${RUN}`;

await step("statuses: post with a picture and a hashtag", async () => {
  const media = await ana.v2.media.create({ file: new Blob([PNG], { type: "image/png" }), description: "a dot" });
  assert.equal(media.type, "image");
  const described = await ana.v1.media.$select(media.id).update({ description: "a red dot" });
  assert.equal(described.description, "a red dot");
  first = await ana.v1.statuses.create({
    status: `Hello from masto.js #${TAG}`, mediaIds: [media.id], visibility: "public", language: "en",
  });
  assert.equal(first.mediaAttachments.length, 1);
  assert.equal(first.tags[0].name, TAG);
  assert.match(first.content, /class="mention hashtag"/);
  const again = await ana.v1.statuses.$select(first.id).fetch();
  assert.equal(again.id, first.id);
});

await step("follow: bob follows ana; relationships", async () => {
  const rel = await bob.v1.accounts.$select(anaMe.id).follow();
  assert.equal(rel.following, true);
  const [seen] = await ana.v1.accounts.relationships.fetch({ id: [bobMe.id] });
  assert.equal(seen.followedBy, true);
  const followers = await ana.v1.accounts.$select(anaMe.id).followers.list();
  assert.ok(followers.some((a) => a.id === bobMe.id));
  const following = await bob.v1.accounts.$select(bobMe.id).following.list();
  assert.ok(following.some((a) => a.id === anaMe.id));
});

await step("statuses: reply, favourite, reblog, bookmark", async () => {
  reply = await bob.v1.statuses.create({ status: `@${anaCreds.username} nice!`, inReplyToId: first.id });
  assert.equal(reply.inReplyToId, first.id);
  assert.equal(reply.mentions[0].id, anaMe.id);
  const faved = await bob.v1.statuses.$select(first.id).favourite();
  assert.equal(faved.favourited, true);
  const boost = await bob.v1.statuses.$select(first.id).reblog();
  assert.equal(boost.reblog.id, first.id);
  const marked = await bob.v1.statuses.$select(first.id).bookmark();
  assert.equal(marked.bookmarked, true);
  assert.ok((await bob.v1.favourites.list()).some((s) => s.id === first.id));
  assert.ok((await bob.v1.bookmarks.list()).some((s) => s.id === first.id));
  assert.ok((await anon.v1.statuses.$select(first.id).favouritedBy.list()).some((a) => a.id === bobMe.id));
  assert.ok((await anon.v1.statuses.$select(first.id).rebloggedBy.list()).some((a) => a.id === bobMe.id));
  const context = await anon.v1.statuses.$select(first.id).context.fetch();
  assert.deepEqual(context.descendants.map((s) => s.id), [reply.id]);
  const source = await anon.v1.statuses.$select(reply.id).context.fetch();
  assert.deepEqual(source.ancestors.map((s) => s.id), [first.id]);
});

await step("timelines: home, public and tag with paging", async () => {
  for (let i = 0; i < 3; i += 1) {
    await ana.v1.statuses.create({ status: `paging ${i} #${TAG}` });
  }
  const home = await bob.v1.timelines.home.list({ limit: 40 });
  assert.ok(home.some((s) => s.id === first.id || s.reblog?.id === first.id), "ana's post on bob's home");
  assert.ok(home.some((s) => s.id === reply.id), "bob's own post on his home");
  const pub = await anon.v1.timelines.public.list({ limit: 5 });
  assert.ok(pub.length > 0);
  const pages = [];
  for await (const page of anon.v1.timelines.tag.$select(TAG).list({ limit: 2 })) {
    pages.push(page.map((s) => s.id));
    if (pages.length > 5) break;
  }
  const all = pages.flat();
  assert.ok(pages.length >= 2, `paged in ${pages.length} pages`);
  assert.equal(new Set(all).size, all.length, "no status twice across pages");
  assert.equal(all.length, 4, "the four tagged posts");
  const accountPages = [];
  for await (const page of anon.v1.accounts.$select(anaMe.id).statuses.list({ limit: 2, excludeReplies: true })) {
    accountPages.push(...page.map((s) => s.id));
    if (accountPages.length > 10) break;
  }
  assert.equal(accountPages.length, 4);
});

await step("notifications and markers", async () => {
  const notes = await ana.v1.notifications.list({ limit: 30 });
  const types = new Set(notes.map((n) => n.type));
  for (const t of ["favourite", "reblog", "follow", "mention"]) {
    assert.ok(types.has(t), `a ${t} notification (got ${[...types]})`);
  }
  const follows = await ana.v1.notifications.list({ types: ["follow"] });
  assert.ok(follows.every((n) => n.type === "follow") && follows.length > 0);
  const one = await ana.v1.notifications.$select(notes[0].id).fetch();
  assert.equal(one.id, notes[0].id);
  await ana.v1.markers.create({ notifications: { lastReadId: notes[0].id } });
  const markers = await ana.v1.markers.fetch({ timeline: ["notifications"] });
  assert.equal(markers.notifications.lastReadId, notes[0].id);
});

await step("search: accounts, statuses and hashtags", async () => {
  const found = await bob.v2.search.list({ q: anaCreds.username, type: "accounts" });
  assert.ok(found.accounts.some((a) => a.id === anaMe.id));
  const tags = await bob.v2.search.list({ q: `#${TAG}`, type: "hashtags" });
  assert.ok(tags.hashtags.some((t) => t.name === TAG));
  const posts = await bob.v2.search.list({ q: "masto.js" });
  assert.ok(posts.statuses.some((s) => s.id === first.id));
  const accounts = await bob.v1.accounts.search.list({ q: bobCreds.username.slice(0, 6) });
  assert.ok(accounts.some((a) => a.id === bobMe.id));
});

await step("edit and delete: history, source, delete and redraft", async () => {
  const edited = await ana.v1.statuses.$select(first.id).update({ status: `Edited from masto.js #${TAG}`, spoilerText: "cw" });
  assert.ok(edited.editedAt);
  assert.equal(edited.spoilerText, "cw");
  const history = await anon.v1.statuses.$select(first.id).history.list();
  assert.equal(history.length, 2);
  const source = await ana.v1.statuses.$select(first.id).source.fetch();
  assert.equal(source.text, `Edited from masto.js #${TAG}`);
  const gone = await bob.v1.statuses.$select(reply.id).remove();
  assert.equal(gone.text, `@${anaCreds.username} nice!`);
  await expectHttpError(anon.v1.statuses.$select(reply.id).fetch(), 404);
  await expectHttpError(bob.v1.statuses.$select(first.id).remove(), 403);
  await expectHttpError(ana.v1.statuses.create({ status: "" }), 422);
});

await step("block and mute", async () => {
  const muted = await ana.v1.accounts.$select(bobMe.id).mute({ duration: 3600 });
  assert.equal(muted.muting, true);
  assert.ok((await ana.v1.mutes.list()).some((a) => a.id === bobMe.id));
  await ana.v1.accounts.$select(bobMe.id).unmute();
  const blocked = await ana.v1.accounts.$select(bobMe.id).block();
  assert.equal(blocked.blocking, true);
  assert.equal(blocked.followedBy, false, "a block ends the follows");
  assert.ok((await ana.v1.blocks.list()).some((a) => a.id === bobMe.id));
  await expectHttpError(bob.v1.statuses.$select(first.id).favourite(), 403);
  await ana.v1.accounts.$select(bobMe.id).unblock();
  const back = await bob.v1.accounts.$select(anaMe.id).follow();
  assert.equal(back.following, true);
});

await step("streaming: an update and a notification arrive live", async () => {
  if (typeof globalThis.WebSocket !== "function") {
    throw new Error("no WebSocket: run with Node 22, or Node 20 with --experimental-websocket");
  }
  const instance = await anon.v2.instance.fetch();
  const streamingApiUrl = instance.configuration.urls.streaming;
  const bobLive = createStreamingAPIClient({ streamingApiUrl, accessToken: bobAccess });
  const anaLive = createStreamingAPIClient({ streamingApiUrl, accessToken: anaAccess });
  const bobUser = bobLive.user.subscribe();
  const anaNotes = anaLive.user.notification.subscribe();
  // Iterate first (masto.js connects when a stream is read, after a short
  // back-off), then give both sockets time to subscribe before posting.
  const gotUpdate = nextEvent(bobUser, (e) => e.event === "update" && e.payload.content.includes("live now"), 15000);
  const gotNote = nextEvent(
    anaNotes,
    (e) => e.event === "notification" && e.payload.type === "favourite" && e.payload.status?.content.includes("live now"),
    15000,
  );
  // Handled below; this only keeps an early timeout from ending the process.
  gotNote.catch(() => {});
  await new Promise((r) => setTimeout(r, 1500));
  const live = await ana.v1.statuses.create({ status: "live now" });
  const update = await gotUpdate;
  assert.equal(update.payload.id, live.id);
  await bob.v1.statuses.$select(live.id).favourite();
  const note = await gotNote;
  assert.equal(note.payload.status.id, live.id);
  bobUser.unsubscribe();
  anaNotes.unsubscribe();
  bobLive.close();
  anaLive.close();
});

const failed = steps.filter(([, outcome]) => outcome !== "ok").map(([name]) => name);
console.log(
  `\nmasto.js scenario: ${steps.length - failed.length} of ${steps.length} steps passed, ` +
    `${checked} entities validated against the schemas`,
);
if (unchecked.size) {
  console.log(`responses without a schema: ${[...unchecked].sort().join(", ")}`);
}
process.exit(failed.length ? 1 : 0);
