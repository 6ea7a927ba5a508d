// The answers of the operating routes the overview, live, sources and pause controls read (see
// docs/api.md: stats, stream, pause, source; alerts and nodes where the server has them).

/** One bucket (or a whole window) of a stats series. */
export interface StatsPoint {
  start: string;
  succeeded: number;
  failedStatus: number;
  timedOut: number;
  failedOther: number;
  attempts: number;
  successRate: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  created: number;
  dead: number;
  messagesStored: number;
  messagesRejected: number;
  messagesDuplicate: number;
  queueDepth: number | null;
  oldestPendingMs: number | null;
}

/** `GET /api/v1/stats/{scope}…`: one point per bucket, empty buckets as zeros. */
export interface StatsSeries {
  scope: string;
  id: string | null;
  bucket: "minute" | "hour";
  since: string;
  until: string;
  data: StatsPoint[];
  total: StatsPoint;
}

/** `GET /api/v1/stats/summary`. */
export interface StatsSummary {
  since: string;
  until: string;
  bucket: "minute" | "hour";
  total: StatsPoint;
  queueDepth: number;
  oldestPendingMs: number | null;
  topApps: (StatsPoint & { id: string })[];
}

/** What a pause holds back. */
export interface Waiting {
  count: number;
  oldestAt: string | null;
  oldestAgeSecs: number | null;
}

/** `GET /api/v1/pause/…`: a target's pause state. */
export interface PauseOut {
  scope: PauseScope;
  id?: string;
  paused: boolean;
  pausedAt: string | null;
  pausedBy: string | null;
  reason: string | null;
  waiting: Waiting | null;
}

export type PauseScope = "server" | "app" | "endpoint" | "handler" | "source";

/** `GET /api/v1/source`: a broker source; `state` (`starting`, `reading`, `paused`,
 * `reconnecting`), `since`, `lag`, `lagAt` and `lastError` when the server reports them. */
export interface SourceOut {
  name: string;
  type: string;
  reads: string;
  format: string;
  app: string | null;
  handler: string | null;
  paused: boolean;
  state?: string | null;
  since?: string | null;
  lag?: number | null;
  lagAt?: string | null;
  lastError?: string | null;
}

/** `GET /api/v1/source/{name}/rejected`. */
export interface RejectedOut {
  id: string;
  source: string;
  brokerId: string;
  reason: string;
  body: string;
  timestamp: string;
}

/** `GET /api/v1/alert?status=firing`. */
export interface AlertOut {
  id: string;
  ruleId: string;
  ruleName: string;
  kind: string;
  subject: string;
  status: string;
  value: number;
  threshold: number;
  summary: string;
  firedAt: string;
  resolvedAt: string | null;
}

/** `GET /api/v1/node`. */
export interface NodeOut {
  id: string;
  role: string;
  lastSeen: string;
  alive: boolean;
  leader: boolean;
}

/** The `data` of a live feed's `attempt`, `run` and `dead` events. */
export interface StreamEvent {
  id: string;
  appId?: string;
  endpointId?: string;
  msgId?: string;
  deliveryId?: string;
  handlerId?: string;
  runId?: string;
  outcome: string;
  statusCode: number;
  exitCode?: number;
  durationMs: number;
  triggerType: number;
  timestamp: string;
}
