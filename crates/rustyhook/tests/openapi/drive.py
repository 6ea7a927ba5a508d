"""Drives rustyhook through a client that openapi-python-client generated from the server's own
OpenAPI document (`rustyhook_client`, in the folder given first): creates an app, an endpoint
and a message, waits for the message's attempt and lists it, and provokes a 404 and a 422 to
read them as the document's error models.

Usage: drive.py <folder holding rustyhook_client> <base url> <token> <receiver url>
Prints a JSON summary on its last line.
"""

import json
import sys
import time

sys.path.insert(0, sys.argv[1])
base, token, receiver = sys.argv[2], sys.argv[3], sys.argv[4]

from rustyhook_client import AuthenticatedClient  # noqa: E402
from rustyhook_client.api.application import (  # noqa: E402
    v1_application_create,
    v1_application_get,
)
from rustyhook_client.api.endpoint import (  # noqa: E402
    v1_endpoint_create,
    v1_endpoint_get_secret,
)
from rustyhook_client.api.message import v1_message_create  # noqa: E402
from rustyhook_client.api.message_attempt import (  # noqa: E402
    v1_message_attempt_list_by_endpoint,
)
from rustyhook_client.models import (  # noqa: E402
    ApplicationIn,
    ApplicationOut,
    EndpointIn,
    EndpointOut,
    HttpErrorOut,
    HTTPValidationError,
    ListResponseMessageAttemptOut,
    MessageIn,
    MessageInPayload,
    MessageOut,
)

client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)


def typed(value, model):
    assert isinstance(value, model), f"expected {model.__name__}, got {value!r}"
    return value


app = typed(
    v1_application_create.sync(
        client=client, body=ApplicationIn(name="Generated client", uid="generated")
    ),
    ApplicationOut,
)
endpoint = typed(
    v1_endpoint_create.sync(
        app.id,
        client=client,
        body=EndpointIn(url=receiver, filter_types=["invoice.paid"], description="receiver"),
    ),
    EndpointOut,
)
secret = v1_endpoint_get_secret.sync(app.id, endpoint.id, client=client).key
message = typed(
    v1_message_create.sync(
        app.id,
        client=client,
        body=MessageIn(
            event_type="invoice.paid",
            payload=MessageInPayload.from_dict({"invoice": "inv_1", "amount": 42}),
            event_id="inv_1-paid",
            tags=["billing"],
        ),
        idempotency_key="generated-client-1",
    ),
    MessageOut,
)

deadline = time.monotonic() + 30
while True:
    attempts = typed(
        v1_message_attempt_list_by_endpoint.sync(
            app.id, endpoint.id, client=client, with_msg=True, limit=10
        ),
        ListResponseMessageAttemptOut,
    )
    if attempts.data:
        break
    assert time.monotonic() < deadline, "no attempt was listed within 30 s"
    time.sleep(0.05)

missing = typed(v1_application_get.sync("no-such-app", client=client), HttpErrorOut)
invalid = typed(
    v1_endpoint_create.sync(
        app.id, client=client, body=EndpointIn(url="https://example.com/h", version=0)
    ),
    HTTPValidationError,
)

print(
    json.dumps(
        {
            "app": app.id,
            "endpoint": endpoint.id,
            "secret": secret,
            "message": message.id,
            "attempts": [
                {
                    "id": a.id,
                    "msgId": a.msg_id,
                    "endpointId": a.endpoint_id,
                    "status": a.status,
                    "responseStatusCode": a.response_status_code,
                    "msgEventId": a.msg.event_id if a.msg else None,
                }
                for a in attempts.data
            ],
            "missing": {"code": missing.code, "detail": missing.detail},
            "invalid": [{"loc": e.loc, "msg": e.msg} for e in invalid.detail],
        }
    )
)
