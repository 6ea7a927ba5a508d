// The API's answers, as far as the pages read them (see docs/api.md).

export interface AppOut {
  id: string;
  uid: string | null;
  name: string;
  rateLimit: number | null;
  metadata: Record<string, string>;
  /** An https:// logo shown in the app portal, or null. */
  logoUrl?: string | null;
  createdAt: string;
}

export interface EndpointOut {
  id: string;
  uid: string | null;
  url: string;
  description: string;
  disabled: boolean;
  rateLimit: number | null;
  filterTypes: string[] | null;
  channels: string[] | null;
  maxInFlight: number;
  createdAt: string;
  updatedAt: string;
}

export interface MessageOut {
  id: string;
  eventType: string;
  eventId: string | null;
  channels: string[] | null;
  tags: string[] | null;
  payload: unknown;
  timestamp: string;
}

export interface AttemptOut {
  id: string;
  msgId: string;
  endpointId: string;
  url: string;
  response: string;
  responseStatusCode: number;
  responseDurationMs: number;
  status: number;
  statusText: string;
  triggerType: number;
  timestamp: string;
  outcome: string;
  /** What rustyhook sent, credentials redacted; null when nothing was sent or not kept. */
  requestHeaders?: Record<string, string> | null;
}

export interface DestinationOut extends EndpointOut {
  status: number;
  statusText: string;
  nextAttempt: string | null;
}

export interface EndpointMessageOut extends MessageOut {
  status: number;
  nextAttempt: string | null;
}

export interface EventTypeOut {
  name: string;
  description: string;
  archived: boolean;
  deprecated: boolean;
  groupName: string | null;
  featureFlags: string[] | null;
  schemas: Record<string, unknown> | null;
  createdAt: string;
}

export interface HandlerOut {
  id: string;
  name: string;
  type: string;
  trigger: Record<string, unknown>;
  command: string | string[] | null;
  timeoutSecs: number;
  maxRetries: number;
  concurrency: number;
  forwardTo: string[];
  dependsOn: string[];
}

export interface RunOut {
  id: string;
  handlerId: string;
  step: string;
  status: string;
  attempts: number;
  nextAttempt: string | null;
  triggeredBy: string;
  parentId: string | null;
  event: { id: string; type: string; payload: string; vars?: Record<string, string> };
  exitCode: number | null;
  output: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RunAttemptOut {
  id: string;
  outcome: string;
  exitCode: number | null;
  output: string;
  durationMs: number;
  timestamp: string;
}

/** A dead delivery to an endpoint, or a dead handler run (`GET /api/v1/dead-letter`). */
export interface DeadLetterOut {
  id: string;
  kind: "endpoint" | "handler";
  appId: string | null;
  endpointId: string | null;
  endpointUrl: string | null;
  msgId: string | null;
  handlerId: string | null;
  runId: string | null;
  eventType: string;
  attempts: number;
  lastStatusCode: number | null;
  lastOutcome: string | null;
  lastExitCode: number | null;
  deadAt: string;
  createdAt: string;
}
