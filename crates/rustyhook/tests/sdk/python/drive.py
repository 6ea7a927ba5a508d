"""Drives a running rustyhook with Svix's official Python SDK, as a user of it would.

Usage: drive.py BASE_URL TOKEN RECEIVER_URL

Exits 0 and prints a JSON summary when every call behaved; otherwise raises, with the call that
failed in the traceback. The Rust test `sdk_clients` runs it against a fresh server.
"""

import json
import sys
import time
from datetime import datetime, timedelta, timezone

from svix.api import (
    AppPortalAccessIn,
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    BackgroundTaskListOptions,
    BackgroundTaskType,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointPatch,
    EndpointSecretRotateIn,
    EventTypeIn,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
    RecoverIn,
    ReplayIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError

base, token, receiver = sys.argv[1:4]
svix = Svix(token, SvixOptions(server_url=base))
summary = {}


def check(ok, what):
    if not ok:
        raise AssertionError(what)


# Apps.
app = svix.application.create(ApplicationIn(name="Python", uid="py-app"))
check(app.uid == "py-app", f"uid kept: {app}")
again = svix.application.get_or_create(ApplicationIn(name="Python", uid="py-app"))
check(again.id == app.id, "get_or_create returns the same app")
patched = svix.application.patch(app.id, ApplicationPatch(name="Python SDK"))
check(patched.name == "Python SDK", "patch renames")
apps = svix.application.list(ApplicationListOptions(limit=10))
check(any(a.id == app.id for a in apps.data), "the app is listed")

# Event types.
svix.event_type.create(EventTypeIn(name="invoice.paid", description="An invoice was paid"))
svix.event_type.create(EventTypeIn(name="invoice.void", description="An invoice was voided"))

# Endpoints, headers, secrets.
ep = svix.endpoint.create(
    app.id,
    EndpointIn(url=receiver, uid="py-ep", eventTypes=["invoice.paid", "invoice.void"]),
)
check(svix.endpoint.get(app.id, "py-ep").id == ep.id, "an endpoint is found by uid")
svix.endpoint.patch(app.id, ep.id, EndpointPatch(description="patched"))
svix.endpoint.set_headers(app.id, ep.id, EndpointHeadersIn(headers={"X-Customer": "acme"}))
svix.endpoint.patch_headers(app.id, ep.id, EndpointHeadersPatchIn(headers={"X-Region": "eu"}))
headers = svix.endpoint.get_headers(app.id, ep.id).headers
check(headers.get("X-Customer") == "acme" and headers.get("X-Region") == "eu", f"headers: {headers}")
secret = svix.endpoint.get_secret(app.id, ep.id).key
check(secret.startswith("whsec_"), "a whsec_ secret")
svix.endpoint.rotate_secret(app.id, ep.id, EndpointSecretRotateIn())
rotated = svix.endpoint.get_secret(app.id, ep.id).key
check(rotated != secret, "rotation changed the secret")
summary["secret"] = rotated

# Messages and attempts.
paid = svix.message.create(
    app.id, MessageIn(eventType="invoice.paid", payload={"invoice": "in_1", "amount": 1200})
)
void = svix.message.create(app.id, MessageIn(eventType="invoice.void", payload={"invoice": "in_2"}))
# Version 2 of the SDKs asks for payloads only when told to (with_content=false by default).
fetched = svix.message.get(app.id, paid.id, MessageGetOptions(with_content=True)).payload
check(fetched == {"invoice": "in_1", "amount": 1200}, f"payload kept: {fetched!r}")
bare = svix.message.get(app.id, paid.id).payload
check(bare == {}, f"no payload unless asked: {bare!r}")
deadline = time.time() + 20
while True:
    attempts = svix.message_attempt.list_by_msg(
        app.id, paid.id, MessageAttemptListByMsgOptions(with_content=True)
    )
    if any(a.status == 0 for a in attempts.data):
        break
    check(time.time() < deadline, "the message was delivered")
    time.sleep(0.1)
listed = svix.message.list(app.id, MessageListOptions(event_types=["invoice.paid", "invoice.void"]))
check(len(listed.data) == 2, f"both types listed: {listed.data}")
by_endpoint = svix.message_attempt.list_by_endpoint(
    app.id, ep.id, MessageAttemptListByEndpointOptions(event_types=["invoice.paid"], with_content=False)
)
check(all(a.msg_id == paid.id for a in by_endpoint.data) and by_endpoint.data, "attempts by type")
attempted = svix.message_attempt.list_attempted_messages(
    app.id, ep.id, MessageAttemptListAttemptedMessagesOptions(with_content=False)
)
check({m.id for m in attempted.data} >= {paid.id}, f"attempted messages: {attempted.data}")
destinations = svix.message_attempt.list_attempted_destinations(app.id, paid.id)
check([d.id for d in destinations.data] == [ep.id], "one destination")
svix.message_attempt.resend(app.id, paid.id, ep.id)
recovered = svix.endpoint.recover(
    app.id, ep.id, RecoverIn(since=datetime.now(timezone.utc) - timedelta(hours=1))
)
summary["recover"] = str(recovered.status)

# Background tasks: the id recover answered can be fetched, and is listed.
task = svix.background_task.get(recovered.id)
check(str(task.status) == "finished" and str(task.task) == "endpoint.recover", f"task: {task}")
check("recovered" in task.data and "messagesSent" in task.data, f"task data: {task.data}")
recovers = BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_RECOVER)
tasks = svix.background_task.list(recovers)
check(any(t.id == recovered.id for t in tasks.data), f"the task is listed: {tasks.data}")

# Replay-missing: an endpoint made after the messages gets both, once; it signs with the secret
# the first rotated to, so every delivery verifies alike.
late = svix.endpoint.create(app.id, EndpointIn(url=receiver, uid="py-late", secret=rotated))
since = datetime.now(timezone.utc) - timedelta(hours=1)
replayed = svix.endpoint.replay_missing(app.id, late.id, ReplayIn(since=since))
check(str(replayed.status) == "finished" and str(replayed.task) == "endpoint.replay", f"{replayed}")
replay_task = svix.background_task.get(replayed.id)
check(replay_task.data.get("replayed") == 2, f"both messages replayed: {replay_task.data}")
replayed_again = svix.endpoint.replay_missing(app.id, late.id, ReplayIn(since=since))
again_task = svix.background_task.get(replayed_again.id)
check(again_task.data.get("replayed") == 0, f"nothing is replayed twice: {again_task.data}")

# The app portal: a token limited to this app lists its endpoints, reads its tasks, cannot
# reach another app, and is refused once logged out.
other = svix.application.create(ApplicationIn(name="Other", uid="py-other"))
portal = svix.authentication.app_portal_access(app.id, AppPortalAccessIn())
scoped = Svix(portal.token, SvixOptions(server_url=base))
own = scoped.endpoint.list(app.id)
check({e.id for e in own.data} == {ep.id, late.id}, f"its endpoints: {own.data}")
check(scoped.background_task.get(recovered.id).id == recovered.id, "its app's task")
try:
    scoped.endpoint.list(other.id)
    raise AssertionError("another app's endpoints were listed")
except HttpError as e:
    check(e.status_code in (401, 403, 404), f"refused, got {e.status_code}")
scoped.authentication.logout()
try:
    scoped.endpoint.list(app.id)
    raise AssertionError("a logged-out token still works")
except HttpError as e:
    check(e.status_code == 401, f"401 after logout, got {e.status_code}")

# Errors arrive as the SDK's own error, with the status.
try:
    svix.application.get("app_does_not_exist")
    raise AssertionError("a missing app raised")
except HttpError as e:
    check(e.status_code == 404, f"404, got {e.status_code}")

summary.update(app=app.id, endpoint=ep.id, messages=[paid.id, void.id])
print(json.dumps(summary))
