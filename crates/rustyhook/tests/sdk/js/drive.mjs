// Drives a running rustyhook with Svix's official JavaScript SDK, as a user of it would.
//
// Usage: node drive.mjs BASE_URL TOKEN RECEIVER_URL
//
// Exits 0 and prints a JSON summary when every call behaved; otherwise throws, naming the check
// that failed. The Rust test `sdk_clients` runs it against a fresh server.
import { ApiException, Svix } from "svix";

const [base, token, receiver] = process.argv.slice(2);
const svix = new Svix(token, { serverUrl: base });

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

// Apps.
const app = await svix.application.create({ name: "JavaScript", uid: "js-app" });
check(app.uid === "js-app", "uid kept");
const again = await svix.application.getOrCreate({ name: "JavaScript", uid: "js-app" });
check(again.id === app.id, "getOrCreate returns the same app");
const apps = await svix.application.list({ limit: 10 });
check(apps.data.some((a) => a.id === app.id), "the app is listed");

// Event types.
await svix.eventType.create({ name: "order.placed", description: "An order was placed" });
await svix.eventType.create({ name: "order.shipped", description: "An order shipped" });

// Endpoints, headers, secrets.
const ep = await svix.endpoint.create(app.id, {
  url: receiver,
  uid: "js-ep",
  eventTypes: ["order.placed", "order.shipped"],
});
check((await svix.endpoint.get(app.id, "js-ep")).id === ep.id, "an endpoint is found by uid");
await svix.endpoint.setHeaders(app.id, ep.id, { headers: { "X-Customer": "acme" } });
await svix.endpoint.patchHeaders(app.id, ep.id, { headers: { "X-Region": "eu" } });
const headers = (await svix.endpoint.getHeaders(app.id, ep.id)).headers;
check(headers["X-Customer"] === "acme" && headers["X-Region"] === "eu", JSON.stringify(headers));
const secret = (await svix.endpoint.getSecret(app.id, ep.id)).key;
check(secret.startsWith("whsec_"), "a whsec_ secret");
await svix.endpoint.rotateSecret(app.id, ep.id, {});
const rotated = (await svix.endpoint.getSecret(app.id, ep.id)).key;
check(rotated !== secret, "rotation changed the secret");

// Messages and attempts.
const placed = await svix.message.create(app.id, {
  eventType: "order.placed",
  payload: { order: "o_1", total: 42 },
});
const shipped = await svix.message.create(app.id, {
  eventType: "order.shipped",
  payload: { order: "o_1" },
});
// Version 2 of the SDKs asks for payloads only when told to (withContent false by default).
const got = await svix.message.get(app.id, placed.id, { withContent: true });
check(got.payload.total === 42, `payload kept: ${JSON.stringify(got.payload)}`);
const deadline = Date.now() + 20000;
for (;;) {
  const attempts = await svix.messageAttempt.listByMsg(app.id, placed.id, { withContent: true });
  if (attempts.data.some((a) => a.status === 0)) break;
  check(Date.now() < deadline, "the message was delivered");
  await new Promise((r) => setTimeout(r, 100));
}
const listed = await svix.message.list(app.id, { eventTypes: ["order.placed", "order.shipped"] });
check(listed.data.length === 2, `both types listed: ${listed.data.length}`);
const byEndpoint = await svix.messageAttempt.listByEndpoint(app.id, ep.id, {
  eventTypes: ["order.placed"],
  withContent: false,
});
check(byEndpoint.data.length > 0 && byEndpoint.data.every((a) => a.msgId === placed.id), "attempts by type");
const attempted = await svix.messageAttempt.listAttemptedMessages(app.id, ep.id, { withContent: false });
check(attempted.data.some((m) => m.id === placed.id), "attempted messages");
const destinations = await svix.messageAttempt.listAttemptedDestinations(app.id, placed.id);
check(destinations.data.length === 1 && destinations.data[0].id === ep.id, "one destination");
await svix.messageAttempt.resend(app.id, placed.id, ep.id);
const recovered = await svix.endpoint.recover(app.id, ep.id, {
  since: new Date(Date.now() - 3600 * 1000),
});

// Background tasks: the id recover answered can be fetched, and is listed.
const task = await svix.backgroundTask.get(recovered.id);
check(task.status === "finished" && task.task === "endpoint.recover", JSON.stringify(task));
check("recovered" in task.data && "messagesSent" in task.data, JSON.stringify(task.data));
const tasks = await svix.backgroundTask.list({ task: "endpoint.recover" });
check(tasks.data.some((t) => t.id === recovered.id), "the task is listed");

// Replay-missing: an endpoint made after the messages gets both, once; it signs with the
// secret the first rotated to, so every delivery verifies alike.
const late = await svix.endpoint.create(app.id, { url: receiver, uid: "js-late", secret: rotated });
const since = new Date(Date.now() - 3600 * 1000);
const replayed = await svix.endpoint.replayMissing(app.id, late.id, { since });
check(
  replayed.status === "finished" && replayed.task === "endpoint.replay",
  JSON.stringify(replayed),
);
const replayTask = await svix.backgroundTask.get(replayed.id);
check(replayTask.data.replayed === 2, `both messages replayed: ${JSON.stringify(replayTask.data)}`);
const replayedAgain = await svix.endpoint.replayMissing(app.id, late.id, { since });
const againTask = await svix.backgroundTask.get(replayedAgain.id);
check(againTask.data.replayed === 0, "nothing is replayed twice");

// The app portal: a token limited to this app lists its endpoints, reads its tasks, cannot
// reach another app, and is refused once logged out.
const other = await svix.application.create({ name: "Other", uid: "js-other" });
const portal = await svix.authentication.appPortalAccess(app.id, {});
const scoped = new Svix(portal.token, { serverUrl: base });
const own = await scoped.endpoint.list(app.id);
const ownIds = own.data.map((e) => e.id).sort();
const expectedIds = [ep.id, late.id].sort();
check(JSON.stringify(ownIds) === JSON.stringify(expectedIds), `its endpoints: ${ownIds}`);
check((await scoped.backgroundTask.get(recovered.id)).id === recovered.id, "its app's task");
async function refused(call, codes, what) {
  try {
    await call();
  } catch (e) {
    check(e instanceof ApiException && codes.includes(e.code), `${what}: got ${e}`);
    return;
  }
  throw new Error(`check failed: ${what}: the call succeeded`);
}
await refused(() => scoped.endpoint.list(other.id), [401, 403, 404], "another app is refused");
await scoped.authentication.logout();
await refused(() => scoped.endpoint.list(app.id), [401], "a logged-out token is refused");

// Errors arrive as the SDK's own error, with the status.
try {
  await svix.application.get("app_does_not_exist");
  throw new Error("a missing app raised");
} catch (e) {
  check(e instanceof ApiException && e.code === 404, `404, got ${e}`);
}

console.log(
  JSON.stringify({
    app: app.id,
    endpoint: ep.id,
    messages: [placed.id, shipped.id],
    secret: rotated,
    recover: String(recovered.status),
  }),
);
