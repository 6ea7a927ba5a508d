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
